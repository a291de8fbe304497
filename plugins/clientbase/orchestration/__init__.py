"""Running the Airflow DAGs from the CLI and tests (``dag.test()``), with Airflow configured."""
