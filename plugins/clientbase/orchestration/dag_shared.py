"""What the DAG files share: assets (one per raw dataset) and the source params (needs Airflow)."""

from airflow.sdk import Asset, Param

from clientbase.contract import DATASETS

RAW = {name: Asset(name=f"raw.{name}", uri=f"clientbase://warehouse/raw/{name}") for name in DATASETS}
REPORTING = Asset(name="reporting", uri="clientbase://warehouse/reporting")

SOURCE_PARAMS = {
    "landing_dir": Param(None, type=["null", "string"], description="folder of CSV drops (files mode)"),
    "erp_url": Param(None, type=["null", "string"], description="ERP database URL (SQL mode)"),
    "sfa_url": Param(None, type=["null", "string"], description="SFA database URL (SQL mode)"),
}
