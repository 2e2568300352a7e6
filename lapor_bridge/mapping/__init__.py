"""Routing reports to the responsible OPD from the YAML files in `mappings/`."""
