"""YTEMPIRE analytics: the playbooks as a dbt project, run by the `ytempire` CLI."""

__version__ = "0.1.0"
