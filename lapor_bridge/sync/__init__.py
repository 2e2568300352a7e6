"""The pull: incremental sync and bounded backfill of LAPOR! reports."""
