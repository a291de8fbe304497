"""Transform: run the dbt project (snapshots, staging -> marts -> reporting_stage)."""
