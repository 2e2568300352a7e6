"""lapor-bridge: sync SP4N-LAPOR! reports with the regency's agencies (OPD)."""

__version__ = "0.1.0"
