"""The dashboards, their charts and datasets, and every label, defined once for both languages.

Why Python and not hand-written YAML: Superset's export format repeats each label, column
and UUID in several files (a dataset's columns, every chart's params and query context, the
dashboard's layout and filters). Defining each thing once here and rendering the YAML
(``bundle.py``) keeps the Russian and English bundles identical but for their labels, keeps
the UUIDs stable, and makes a new dashboard (as "Матрица КПЭ" was) one more entry in
``DATASETS`` / ``CHARTS`` / ``DASHBOARDS``.

Labels: ``LABELS[key] = (russian, english)``; column labels are keyed by column name, so a
column is called the same on every dataset. Status values are shown through calculated
columns (``status_name``…) whose SQL ``CASE`` comes from ``STATUS_LABELS``.

Access (``access.py``): every dataset says which column ties its rows to a manager
(``owner_column``: ``manager_id`` for the client tables, ``rep_id`` for the trade-point
tables; ``owner_clause`` when the tie is not one column, as the rep rows of the long tables
``kpi_matrix_monthly`` and ``retail_audit_monthly``) or ``None`` when its rows are
company-wide aggregates (territory, channel, category, totals) that belong to no single manager.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

LANGUAGES = ("ru", "en")

# key -> (Russian, English). Column names are keys too (one label per column everywhere).
LABELS: dict[str, tuple[str, str]] = {
    # dashboards
    "dash_client_base": ("Клиентская база", "Client base"),
    "dash_coverage": ("Покрытие", "Coverage"),
    "dash_visits": ("Визиты", "Visits"),
    "dash_managers": ("Менеджеры", "Managers"),
    "dash_kpi_matrix": ("Матрица КПЭ", "KPI matrix"),
    # native filters
    "filter_month": ("Месяц", "Month"),
    "filter_manager": ("Менеджер", "Manager"),
    "filter_territory": ("Территория", "Territory"),
    "filter_dimension": ("Разрез", "Dimension"),
    "filter_dimension_value": ("Значение разреза", "Dimension value"),
    # charts
    "chart_status_mix": ("Структура базы по менеджерам против плана", "Status mix by manager against plan"),
    "chart_status_trend": ("Клиенты по статусам, по месяцам", "Clients by status over the months"),
    "chart_status_flow": ("Переходы между статусами за месяц", "Status flow of the month"),
    "chart_events": ("Новые, вернувшиеся и потерянные", "New, returned and lost"),
    "chart_cov_territory": ("Покрытие по территориям", "Coverage by territory"),
    "chart_cov_rep": ("Покрытие по торговым представителям", "Coverage by sales rep"),
    "chart_cov_channel": ("Покрытие по каналам", "Coverage by channel"),
    "chart_cov_category": ("АКБ по категориям", "AKB by category"),
    "chart_cov_stability": ("АКБ и стабильная АКБ, по месяцам", "AKB and stable AKB over the months"),
    "chart_visits_reps": ("Визиты, эффективность и СТТ по представителям", "Visits, effectiveness and STT by rep"),
    "chart_visits_trend": ("Визиты: план и факт, по месяцам", "Visits: planned and actual over the months"),
    "chart_scorecard": ("Карта менеджеров", "Manager scorecard"),
    "chart_rotation": ("Кандидаты на ротацию", "Rotation candidates"),
    "chart_call_list": ("Риск потери клиентов: кому позвонить первым", "Churn risk: whom to call first"),
    "chart_rotation_outcomes": ("Работает ли ротация: снова покупают в течение 3 месяцев",
                                "Does rotation work: active again within 3 months"),
    "chart_kpi_matrix": ("Матрица КПЭ: 24 показателя за 3 месяца", "KPI matrix: 24 lines over 3 months"),
    "chart_recv_overdue": ("ПДЗ по месяцам", "Overdue share over the months"),
    "chart_recv_discipline": ("Системные оплаты по сумме, по месяцам", "Payment discipline over the months"),
    "chart_recv_on_time": ("Доля оплат в срок, по месяцам", "On-time share over the months"),
    "chart_recv_table": ("Дебиторская задолженность и оплаты, по месяцам", "Receivables and payments over the months"),
    "chart_shelf_trend": ("КП и КД, по месяцам", "Planogram coverage and MML distribution over the months"),
    "chart_shelf_rep": ("КП и КД по торговым представителям", "Planogram coverage and MML distribution by rep"),
    # metrics
    "m_clients_sum": ("Клиенты", "Clients"),
    "m_client_count": ("Клиенты", "Clients"),
    "m_new_events": ("Новые", "New"),
    "m_returned_events": ("Вернувшиеся", "Returned"),
    "m_lost_events": ("Потерянные", "Lost"),
    "m_akb_sum": ("АКБ", "AKB"),
    "m_stable_akb_sum": ("Стабильная АКБ (3 мес.)", "Stable AKB (3 months)"),
    "m_planned_sum": ("Визиты по плану", "Planned visits"),
    "m_actual_sum": ("Визиты факт", "Actual visits"),
    "m_overdue_share_value": ("ПДЗ", "Overdue share"),
    "m_payment_discipline_value": ("Системные оплаты по сумме", "Payment discipline"),
    "m_on_time_share_value": ("Оплачено в срок", "Paid on time"),
    "m_planogram_coverage_ratio": ("КП", "Planogram coverage"),
    "m_distribution_coefficient_ratio": ("КД", "MML distribution"),
    # columns
    "month": ("Месяц", "Month"),
    "month_label": ("Месяц", "Month"),
    "manager": ("Менеджер", "Manager"),
    "manager_id": ("Менеджер", "Manager"),
    "rep_id": ("Торговый представитель", "Sales rep"),
    "client_id": ("Клиент", "Client"),
    "status": ("Статус (код)", "Status (code)"),
    "status_name": ("Статус", "Status"),
    "from_status": ("Из статуса (код)", "From status (code)"),
    "to_status": ("В статус (код)", "To status (code)"),
    "from_status_name": ("Из статуса", "From status"),
    "to_status_name": ("В статус", "To status"),
    "clients": ("Клиенты", "Clients"),
    "share": ("Доля базы", "Share of the base"),
    "plan_share": ("План", "Plan"),
    "on_plan": ("В плане", "On plan"),
    "is_all_managers": ("Все менеджеры", "All managers"),
    "role": ("Роль", "Role"),
    "client_base": ("Клиентская база", "Client base"),
    "plan_direction": ("Направление плана", "Plan direction"),
    "status_order": ("Порядок статуса", "Status order"),
    "is_new_this_month": ("Новый в месяце", "New this month"),
    "is_returned_this_month": ("Вернулся в месяце", "Returned this month"),
    "is_lost_this_month": ("Потерян в месяце", "Lost this month"),
    "months_inactive": ("Месяцев без отгрузок", "Months inactive"),
    "revenue": ("Выручка", "Revenue"),
    "margin": ("Маржа", "Margin"),
    "abc_class": ("ABC(DE)", "ABC(DE)"),
    "tier": ("Уровень клиента", "Tier"),
    "territory": ("Территория", "Territory"),
    "channel": ("Канал", "Channel"),
    "okb": ("ОКБ", "OKB (census points)"),
    "pakb": ("ПАКБ", "PAKB (planned points)"),
    "akb": ("АКБ", "AKB (active points)"),
    "coverage_okb": ("Покрытие ОКБ", "OKB coverage"),
    "coverage_pakb": ("Покрытие ПАКБ", "PAKB coverage"),
    "akb_3m": ("АКБ за 3 мес.", "AKB, 3 months"),
    "stable_akb_3m": ("Стабильная АКБ", "Stable AKB"),
    "stability_3m": ("Стабильность", "Stability"),
    "points": ("Точки", "Points"),
    "category": ("Категория", "Category"),
    "category_akb": ("АКБ категории", "Category AKB"),
    "category_coverage": ("Доля от АКБ", "Share of AKB"),
    "buying_points": ("Покупающие точки", "Buying points"),
    # the monthly report (clientbase report, plugins/clientbase/monthly_report/); the column keys
    # below it are the receivables and matrix columns, named as on the BI side
    "report_title": ("Ежемесячный отчёт", "Monthly report"),
    "report_director": ("Все менеджеры (директор)", "All managers (director)"),
    "report_total": ("Итого", "Total"),
    "report_published": ("Опубликовано", "Published"),
    "report_version": ("версия", "version"),
    "report_page": ("стр.", "page"),
    "report_of": ("из", "of"),
    "report_headlines": ("Главное за месяц", "The month at a glance"),
    "report_previous": ("Прошлый месяц", "Previous month"),
    "report_change": ("Изменение", "Change"),
    "report_pp": ("п.п.", "pp"),
    "report_changes": ("Что изменилось с прошлого месяца", "What changed since last month"),
    "report_event_clients": ("Клиенты с событиями месяца", "Clients with an event this month"),
    "report_base_trend": ("Клиентская база, по месяцам", "Client base over the months"),
    "report_lists": ("Риск потери, ротация и передача клиентов", "Churn risk, rotation and handover"),
    "report_handover": ("Кандидаты на передачу", "Handover candidates"),
    "report_coverage_visits": ("Покрытие и визиты", "Coverage and visits"),
    "report_kpi_matrix": ("Матрица КПЭ за 3 месяца", "KPI matrix over 3 months"),
    "report_receivables": ("Дебиторская задолженность и оплаты", "Receivables and payments"),
    "report_no_rows": ("нет строк за месяц", "no rows this month"),
    "report_plan_tick": ("доля базы / план (черта)", "share of the base / plan (tick)"),
    "report_yes": ("да", "yes"),
    "report_no": ("нет", "no"),
    "planned_visits": ("Визиты по плану", "Planned visits"),
    "actual_visits": ("Визиты факт", "Actual visits"),
    "orders": ("Заказы", "Orders"),
    "effective_orders": ("Эффективные заказы", "Effective orders"),
    "visit_effectiveness": ("Эффективность визитов", "Visit effectiveness"),
    "kpd_effectiveness": ("КПД", "KPD"),
    "stt_3m": ("СТТ", "STT (systemic points)"),
    "stt_share": ("Доля СТТ", "STT share"),
    "rep_cost": ("Затраты на представителя", "Rep cost"),
    "cost_per_visit": ("Стоимость визита", "Cost per visit"),
    "cost_per_order": ("Стоимость заказа", "Cost per order"),
    "margin_per_order": ("Маржа на заказ", "Margin per order"),
    "useful_income_share": ("Доля полезного дохода", "Useful income share"),
    "assigned_points": ("Закреплённые точки", "Assigned points"),
    "active_clients": ("Активные клиенты", "Active clients"),
    "overloaded": ("Перегружен", "Overloaded"),
    "rotation_candidates": ("На ротацию", "Rotation candidates"),
    "new_clients": ("Новые", "New"),
    "returned_clients": ("Вернувшиеся", "Returned"),
    "handover_candidates": ("К передаче", "Handover candidates"),
    "handed_over_3m": ("Передано за 3 мес.", "Handed over, 3 months"),
    "handover_target": ("План передачи", "Handover target"),
    "new_clients_3m": ("Новые за 3 мес.", "New, 3 months"),
    "returned_clients_3m": ("Вернувшиеся за 3 мес.", "Returned, 3 months"),
    "stabilized_clients": ("Стабильные", "Stabilized"),
    "lost_clients": ("Потерянные", "Lost"),
    "plan_misses": ("Невыполненные планы", "Plan misses"),
    "last_shipment_date": ("Последняя отгрузка", "Last shipment"),
    # issue 13: early warning and rotation outcomes
    "client_name": ("Название клиента", "Client name"),
    "p_lost_3m": ("Риск потери (3 мес.)", "Risk of loss (3 months)"),
    "risk_rank": ("Место по риску", "Risk rank"),
    "is_at_risk": ("Под риском", "At risk"),
    "on_call_list": ("В списке обзвона", "On the call list"),
    "reasons": ("Причины риска", "Why at risk"),
    "reasons_en": ("Причины (англ.)", "Reasons (English)"),
    "reasons_text": ("Почему", "Why"),
    "model_version": ("Версия модели", "Model version"),
    "at_risk_clients": ("Под риском потери", "At risk of loss"),
    "call_list_clients": ("В списке обзвона", "On the call list"),
    "candidate_month": ("Месяц кандидатов", "Candidate month"),
    "candidates": ("Кандидаты", "Candidates"),
    "rotated": ("Переданы", "Rotated"),
    "rotated_active_again": ("Переданы, снова покупают", "Rotated, active again"),
    "rotated_active_again_share": ("Доля переданных, снова покупают", "Rotated, share active again"),
    "stayed": ("Остались", "Stayed"),
    "stayed_active_again": ("Остались, снова покупают", "Stayed, active again"),
    "stayed_active_again_share": ("Доля оставшихся, снова покупают", "Stayed, share active again"),
    "rotated_to_date": ("Переданы, всего", "Rotated, to date"),
    "rotated_active_again_to_date": ("Переданы, снова покупают, всего", "Rotated, active again, to date"),
    "rotated_active_again_share_to_date": ("Доля переданных, всего", "Rotated, share to date"),
    "stayed_to_date": ("Остались, всего", "Stayed, to date"),
    "stayed_active_again_to_date": ("Остались, снова покупают, всего", "Stayed, active again, to date"),
    "stayed_active_again_share_to_date": ("Доля оставшихся, всего", "Stayed, share to date"),
    "revenue_12m": ("Выручка за 12 мес.", "Revenue, 12 months"),
    "dimension": ("Разрез", "Dimension"),
    "dimension_value": ("Значение разреза", "Dimension value"),
    "metric_no": ("№", "No."),
    "metric_code": ("Код показателя", "Line code"),
    "metric_name_ru": ("Показатель (рус.)", "Line (Russian)"),
    "metric_name": ("Показатель", "Line"),
    "unit": ("Единица", "Unit"),
    "value": ("Значение (число)", "Value (number)"),
    # not "Значение": Superset's Russian locale translates its table's "Main" so, and blanks a
    # column header of that name (the time-comparison "Main" column gets no header)
    "value_text": ("Значение показателя", "Value"),
    "receivables": ("ДЗ", "Receivables"),
    "overdue_receivables": ("Просроченная ДЗ", "Overdue receivables"),
    "overdue_share": ("ПДЗ", "Overdue share"),
    "overdue_clients": ("Клиенты с просрочкой", "Clients overdue"),
    "planned_payments": ("План оплат", "Planned payments"),
    "payments": ("Оплаты", "Payments"),
    "payment_discipline": ("Системные оплаты по сумме", "Payment discipline"),
    "paid_on_time": ("Оплачено в срок (сумма)", "Paid on time (amount)"),
    "on_time_share": ("Доля оплат в срок", "On-time share"),
    "audited_points": ("Точки с аудитом", "Audited points"),
    "planogram_points": ("Точки по планограмме", "Points on planogram"),
    "planogram_coverage": ("КП", "Planogram coverage"),
    "mml_skus": ("SKU в ММЛ", "MML SKUs"),
    "mml_present": ("SKU ММЛ в наличии", "MML SKUs present"),
    "distribution_coefficient": ("КД", "MML distribution"),
}

# The manager column of receivables_monthly is NULL on the all-managers row: it is shown (and
# offered by the manager filter) under this name, in the dashboards' language.
ALL_MANAGERS = ("Все менеджеры", "All managers")

# The KPI matrix lines' names (seed kpi_matrix_metrics, metrics.md §10) in English: the table
# carries the Russian name (metric_name_ru), the English bundle shows these, by metric_code.
KPI_LINE_NAMES_EN: dict[str, str] = {
    "okb": "OKB (census points)", "pakb": "PAKB (planned points)", "akb": "AKB (active points)",
    "coverage_pakb": "PAKB coverage", "coverage_okb": "OKB coverage", "stable_akb": "Stable AKB",
    "stability": "AKB stability", "stt": "STT (systemic points)", "stt_share": "STT share",
    "category_akb": "Category AKB", "category_akb_share": "Category AKB share", "planned_visits": "Planned visits",
    "orders": "Orders", "effective_orders": "Effective orders", "visit_effectiveness": "Visit effectiveness",
    "kpd_effectiveness": "KPD", "cost_per_visit": "Cost per visit", "cost_per_order": "Cost per order",
    "margin_per_order": "Margin per order", "useful_income_share": "Useful income share",
    "overdue_share": "Overdue share (PDZ)", "payment_discipline": "Payment discipline",
    "planogram_coverage": "Planogram coverage (KP)", "distribution_coefficient": "MML distribution (KD)",
}

# How the matrix shows a value by its unit (seed column `unit`): shares as percentages with one
# decimal, money and counts as whole numbers with thousands grouped; Postgres formats it, since a
# Superset table formats a column, not a row. tests/test_bi_superset.py re-formats in Python.
VALUE_TEXT_SQL = ("CASE WHEN value IS NULL THEN '—' "
                  "WHEN unit = 'share' THEN to_char(round(value * 100, 1), 'FM999999990.0') || '%' "
                  "ELSE replace(to_char(round(value), 'FM999,999,999,999,990'), ',', ' ') END")

# metrics.md §2 statuses, shown in the dashboards' language (the tables keep the codes).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "potential": ("потенциальный", "potential"),
    "new": ("новый", "new"),
    "returned": ("вернувшийся", "returned"),
    "stabilized": ("стабильный", "stabilized"),
    "unstabilized": ("нестабильный", "unstabilized"),
    "lost": ("потерянный", "lost"),
    "dormant": ("спящий", "dormant"),
}

# d3 formats: shares and ratios are fractions in `reporting` (README "What is published").
PERCENT = ".1%"
MONEY = ",.0f"
RATIO = ".2f"


def label(key: str, language: str) -> str:
    """The label of ``key`` in ``language`` (``ru`` or ``en``); a missing key is a bug here."""
    if language not in LANGUAGES:
        raise ValueError(f"BI language {language!r}: use one of {', '.join(LANGUAGES)}")
    return LABELS[key][LANGUAGES.index(language)]


def kpi_line_name_sql(language: str) -> str:
    """SQL naming a matrix line in ``language``: the seed's Russian name, or English by code."""
    if language == "ru":
        return "metric_name_ru"
    whens = " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in KPI_LINE_NAMES_EN.items())
    return f"CASE metric_code {whens} ELSE metric_name_ru END"


def all_managers_sql(column: str, language: str) -> str:
    """SQL showing the all-managers row (``column`` NULL) under its name in ``language``."""
    return f"COALESCE({column}, '{ALL_MANAGERS[LANGUAGES.index(language)]}')"


def status_case(column: str, language: str) -> str:
    """SQL that names a status code in ``language`` (an unknown code is shown as it is)."""
    index = LANGUAGES.index(language)
    whens = " ".join(f"WHEN '{code}' THEN '{names[index]}'" for code, names in STATUS_LABELS.items())
    return f"CASE {column} {whens} ELSE {column} END"


@dataclass(frozen=True)
class Column:
    """A dataset column; ``expression`` makes it a calculated column (SQL over the row)."""

    name: str
    type: str
    expression: str | None = None
    is_dttm: bool = False
    # status columns get their expression per language (status_case) when rendered
    status_of: str | None = None
    # other per-language expressions: a function of the language (kpi_line_name_sql…)
    localized: Callable[[str], str] | None = None

    @property
    def calculated(self) -> bool:
        """A column Superset computes (SQL over the row), not one the table has."""
        return bool(self.expression or self.status_of or self.localized)

    def expression_in(self, language: str) -> str | None:
        """The column's SQL in ``language`` (None: a physical column)."""
        if self.status_of:
            return status_case(self.status_of, language)
        if self.localized:
            return self.localized(language)
        return self.expression


@dataclass(frozen=True)
class Metric:
    name: str
    expression: str
    d3format: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A Superset dataset over ``reporting``: a published table, or a virtual one (``sql``).

    ``owner_column`` is what row-level security filters on for a manager's role (None: the
    rows are company-wide aggregates and a manager's role sees none of them). ``owner_clause``
    replaces ``column = '<id>'`` when the tie is not one column: ``{id}`` stands for the quoted
    manager id (the long tables' rep rows: ``dimension = 'rep' AND dimension_value = {id}``);
    ``owner_column`` then names the rule (``access.py``) and must still be a column.
    """

    key: str
    table: str
    columns: tuple[Column, ...]
    owner_column: str | None
    metrics: tuple[Metric, ...] = ()
    sql: str | None = None
    description: str = ""
    owner_clause: str | None = None

    def owner_sql(self, quoted_id: str) -> str | None:
        """The row-level-security clause of a manager whose id is ``quoted_id`` (an SQL literal)."""
        if self.owner_column is None:
            return None
        if self.owner_clause:
            return self.owner_clause.replace("{id}", quoted_id)
        return f"{self.owner_column} = {quoted_id}"

    @property
    def column_names(self) -> set[str]:
        return {c.name for c in self.columns}


@dataclass(frozen=True)
class Chart:
    """A chart; ``kind`` selects how bundle.py renders params and query context.

    kinds: ``table`` (raw rows: ``columns``, ordered by ``order_by``), ``bars`` / ``lines``
    (months on the x axis: ``metrics``, split by ``groupby``), ``matrix`` (pivot table:
    ``rows`` × ``cols`` of ``metrics[0]``). ``monthly``: the month filter applies (a trend
    over the months is left out of its scope). ``formats``: d3 formats by column (tables), and
    ``y_axis`` for the value axis of bars / lines (shares as percentages).
    """

    key: str
    dataset: str
    kind: str
    columns: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    groupby: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    cols: tuple[str, ...] = ()
    monthly: bool = True
    formats: dict[str, str] = field(default_factory=dict)
    height: int = 50
    # a table's bars behind its numbers: off where the numbers are not comparable (line numbers
    # and values of different units in one column)
    cell_bars: bool = True

    @property
    def title_key(self) -> str:
        return f"chart_{self.key}"


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: rows of (chart key, width of 12) and its native filters.

    ``filters``: ``month`` (single month, the latest by default), ``manager`` (the calculated
    column ``manager``: manager_id or rep_id), ``territory`` (coverage by territory only:
    `reporting` carries the territory only there), ``dimension`` (total / territory / rep of the
    long tables, one, ``total`` by default) and ``dimension_value`` (its values, cascading from
    ``dimension``; none chosen: every value of the dimension).
    """

    key: str
    slug: str
    layout: tuple[tuple[tuple[str, int], ...], ...]
    filters: tuple[str, ...] = ("month", "manager")
    # the dataset whose `manager` values the manager filter offers: the managers who own
    # clients (scorecard) on the client dashboards, the reps on visits and coverage
    manager_source: str = "scorecard"

    @property
    def title_key(self) -> str:
        return f"dash_{self.key}"

    @property
    def chart_keys(self) -> list[str]:
        return [key for row in self.layout for key, _ in row]


def _month_columns() -> tuple[Column, ...]:
    return (Column("month", "DATE", is_dttm=True),
            Column("month_label", "TEXT", expression="to_char(month, 'YYYY-MM')"))


def _manager(column: str) -> Column:
    """The column the manager filter targets on every dataset (one name on all dashboards)."""
    return Column("manager", "TEXT", expression=column)


_COVERAGE_COLUMNS = (
    Column("okb", "BIGINT"), Column("pakb", "BIGINT"), Column("akb", "BIGINT"),
    Column("coverage_okb", "NUMERIC"), Column("coverage_pakb", "NUMERIC"), Column("akb_3m", "BIGINT"),
    Column("stable_akb_3m", "BIGINT"), Column("stability_3m", "NUMERIC"),
)
_COVERAGE_SELECT = "okb, pakb, akb, coverage_okb, coverage_pakb, akb_3m, stable_akb_3m, stability_3m"


def _coverage_sql(dimension: str, alias: str | None) -> str:
    value = f"dimension_value AS {alias}, " if alias else ""
    return (f"SELECT month, {value}{_COVERAGE_SELECT}\nFROM reporting.coverage_monthly\n"
            f"WHERE dimension = '{dimension}'")


# A rep's rows of a long table (dimension x dimension_value): reps and managers share one id space.
REP_ROWS_CLAUSE = "dimension = 'rep' AND dimension_value = {id}"

DATASETS: dict[str, Dataset] = {d.key: d for d in (
    Dataset(
        "status_summary", "status_summary_monthly", owner_column="manager_id",
        description="reporting.status_summary_monthly: status mix per manager against the role's plan.",
        columns=(*_month_columns(), Column("manager_id", "TEXT"), _manager("manager_id"),
                 Column("status", "TEXT"), Column("status_name", "TEXT", status_of="status"),
                 Column("clients", "BIGINT"), Column("share", "NUMERIC"), Column("plan_share", "NUMERIC"),
                 Column("on_plan", "BOOLEAN"), Column("is_all_managers", "BOOLEAN"), Column("role", "TEXT"),
                 Column("client_base", "NUMERIC"), Column("plan_direction", "TEXT"),
                 Column("status_order", "INTEGER")),
        metrics=(Metric("clients_sum", "SUM(clients)"),)),
    Dataset(
        "client_status", "client_status_monthly", owner_column="manager_id",
        description="reporting.client_status_monthly: each client's status and events per month.",
        columns=(*_month_columns(), Column("client_id", "TEXT"), Column("manager_id", "TEXT"),
                 _manager("manager_id"), Column("status", "TEXT"),
                 Column("status_name", "TEXT", status_of="status"),
                 Column("is_new_this_month", "BOOLEAN"), Column("is_returned_this_month", "BOOLEAN"),
                 Column("is_lost_this_month", "BOOLEAN"), Column("months_inactive", "INTEGER"),
                 Column("revenue", "NUMERIC"), Column("margin", "NUMERIC"), Column("abc_class", "TEXT"),
                 Column("tier", "TEXT")),
        metrics=(Metric("client_count", "COUNT(*)"),
                 Metric("new_events", "SUM(CASE WHEN is_new_this_month THEN 1 ELSE 0 END)"),
                 Metric("returned_events", "SUM(CASE WHEN is_returned_this_month THEN 1 ELSE 0 END)"),
                 Metric("lost_events", "SUM(CASE WHEN is_lost_this_month THEN 1 ELSE 0 END)"))),
    Dataset(
        # status_flow_monthly has no owner column; the same flow per owner of the month comes
        # from the client rows of M and M-1 (a client without a row in M-1 comes from potential,
        # as status_flow_monthly counts it), so a manager's role can see their own flow.
        "status_flow", "bi_status_flow_by_manager", owner_column="manager_id",
        description="Status flow (M-1 -> M) per owner of the month, from reporting.client_status_monthly.",
        sql=("SELECT cur.month, cur.manager_id, COALESCE(prev.status, 'potential') AS from_status,\n"
             "       cur.status AS to_status, COUNT(*) AS clients\n"
             "FROM reporting.client_status_monthly AS cur\n"
             "LEFT JOIN reporting.client_status_monthly AS prev\n"
             "  ON prev.client_id = cur.client_id AND prev.month = (cur.month - INTERVAL '1 month')::date\n"
             "GROUP BY cur.month, cur.manager_id, COALESCE(prev.status, 'potential'), cur.status"),
        columns=(*_month_columns(), Column("manager_id", "TEXT"), _manager("manager_id"),
                 Column("from_status", "TEXT"), Column("to_status", "TEXT"),
                 Column("from_status_name", "TEXT", status_of="from_status"),
                 Column("to_status_name", "TEXT", status_of="to_status"), Column("clients", "BIGINT")),
        metrics=(Metric("clients_sum", "SUM(clients)"),)),
    Dataset(
        "coverage_territory", "bi_coverage_by_territory", owner_column=None,
        description="reporting.coverage_monthly, dimension territory.",
        sql=_coverage_sql("territory", "territory"),
        columns=(*_month_columns(), Column("territory", "TEXT"), *_COVERAGE_COLUMNS)),
    Dataset(
        "coverage_rep", "bi_coverage_by_rep", owner_column="rep_id",
        description="reporting.coverage_monthly, dimension rep (the points' rep as of the month).",
        sql=_coverage_sql("rep", "rep_id"),
        columns=(*_month_columns(), Column("rep_id", "TEXT"), _manager("rep_id"), *_COVERAGE_COLUMNS)),
    Dataset(
        "coverage_channel", "bi_coverage_by_channel", owner_column=None,
        description="reporting.coverage_monthly, dimension channel.",
        sql=_coverage_sql("channel", "channel"),
        columns=(*_month_columns(), Column("channel", "TEXT"), *_COVERAGE_COLUMNS)),
    Dataset(
        "coverage_total", "bi_coverage_total", owner_column=None,
        description="reporting.coverage_monthly, the company total.",
        sql=_coverage_sql("total", None),
        columns=(*_month_columns(), *_COVERAGE_COLUMNS),
        metrics=(Metric("akb_sum", "SUM(akb)"), Metric("stable_akb_sum", "SUM(stable_akb_3m)"))),
    Dataset(
        "category_coverage", "category_coverage_monthly", owner_column=None,
        description="reporting.category_coverage_monthly: category AKB (metrics.md §4).",
        columns=(*_month_columns(), Column("category", "TEXT"), Column("category_akb", "BIGINT"),
                 Column("akb", "BIGINT"), Column("category_coverage", "NUMERIC"),
                 Column("buying_points", "BIGINT"))),
    Dataset(
        "visits", "visits_monthly", owner_column="rep_id",
        description="reporting.visits_monthly: visits, effectiveness, STT and rep costs per rep.",
        columns=(*_month_columns(), Column("rep_id", "TEXT"), _manager("rep_id"),
                 *(Column(name, "BIGINT") for name in ("planned_visits", "actual_visits", "orders",
                                                       "effective_orders")),
                 Column("visit_effectiveness", "NUMERIC"), Column("kpd_effectiveness", "NUMERIC"),
                 Column("stt_3m", "BIGINT"), Column("akb_3m", "BIGINT"), Column("stt_share", "NUMERIC"),
                 *(Column(name, "NUMERIC") for name in ("rep_cost", "cost_per_visit", "cost_per_order",
                                                        "margin_per_order", "useful_income_share")),
                 Column("akb", "BIGINT"), Column("assigned_points", "BIGINT"), Column("revenue", "NUMERIC"),
                 Column("margin", "NUMERIC")),
        metrics=(Metric("planned_sum", "SUM(planned_visits)"), Metric("actual_sum", "SUM(actual_visits)"))),
    Dataset(
        "scorecard", "manager_scorecard_monthly", owner_column="manager_id",
        description="reporting.manager_scorecard_monthly: the managers' scorecard (metrics.md §3).",
        columns=(*_month_columns(), Column("manager_id", "TEXT"), _manager("manager_id"), Column("role", "TEXT"),
                 Column("clients", "BIGINT"), Column("active_clients", "BIGINT"), Column("overloaded", "BOOLEAN"),
                 *(Column(name, "BIGINT") for name in ("rotation_candidates", "new_clients", "returned_clients",
                                                       "handover_candidates", "handed_over_3m")),
                 Column("handover_target", "INTEGER"), Column("revenue", "NUMERIC"), Column("margin", "NUMERIC"),
                 Column("new_clients_3m", "NUMERIC"), Column("returned_clients_3m", "NUMERIC"),
                 Column("stabilized_clients", "BIGINT"), Column("lost_clients", "BIGINT"),
                 Column("on_plan", "BOOLEAN"), Column("plan_misses", "BIGINT"),
                 Column("at_risk_clients", "BIGINT"), Column("call_list_clients", "BIGINT"))),
    Dataset(
        "rotation", "rotation_candidates", owner_column="manager_id",
        description="reporting.rotation_candidates: whom to hand to another manager (metrics.md §3).",
        columns=(*_month_columns(), Column("client_id", "TEXT"), Column("manager_id", "TEXT"),
                 _manager("manager_id"), Column("last_shipment_date", "DATE"),
                 Column("months_inactive", "INTEGER"), Column("revenue_12m", "NUMERIC"), Column("status", "TEXT"),
                 Column("status_name", "TEXT", status_of="status"), Column("tier", "TEXT"),
                 Column("abc_class", "TEXT"))),
    Dataset(
        "churn_risk", "churn_risk_monthly", owner_column="manager_id",
        description="reporting.churn_risk_monthly: each client's risk of going silent for 3 months, its rank "
                    "among its manager's clients still buying, the reasons and the call list (issue 13).",
        columns=(*_month_columns(), Column("client_id", "TEXT"), Column("client_name", "TEXT"),
                 Column("manager_id", "TEXT"), _manager("manager_id"), Column("tier", "TEXT"),
                 Column("status", "TEXT"), Column("status_name", "TEXT", status_of="status"),
                 Column("months_inactive", "INTEGER"), Column("last_shipment_date", "DATE"),
                 Column("revenue_12m", "NUMERIC"), Column("p_lost_3m", "NUMERIC"), Column("risk_rank", "BIGINT"),
                 Column("is_at_risk", "BOOLEAN"), Column("on_call_list", "BOOLEAN"), Column("reasons", "TEXT"),
                 Column("reasons_en", "TEXT"),
                 Column("reasons_text", "TEXT", localized=lambda language: "reasons" if language == "ru"
                        else "reasons_en"),
                 Column("model_version", "TEXT"))),
    Dataset(
        # company-wide: whether handing idle clients to another manager brings them back
        "rotation_outcomes", "rotation_outcomes_monthly", owner_column=None,
        description="reporting.rotation_outcomes_monthly: rotation candidates handed to another manager against "
                    "those that stayed, active again within 3 months (issue 13).",
        columns=(*_month_columns(), Column("candidate_month", "DATE"),
                 *(Column(name, "BIGINT") for name in ("candidates", "rotated", "rotated_active_again", "stayed",
                                                       "stayed_active_again", "rotated_to_date",
                                                       "rotated_active_again_to_date", "stayed_to_date",
                                                       "stayed_active_again_to_date")),
                 *(Column(name, "NUMERIC") for name in ("rotated_active_again_share", "stayed_active_again_share",
                                                        "rotated_active_again_share_to_date",
                                                        "stayed_active_again_share_to_date")))),
    Dataset(
        # a rep's role sees the rep rows of its id (lines 1-20 of its points); the total and the
        # territories are company-wide; lines 21-22 (receivables) exist for the total only
        "kpi_matrix", "kpi_matrix_monthly", owner_column="dimension_value",
        owner_clause=REP_ROWS_CLAUSE,
        description="reporting.kpi_matrix_monthly: the 24 lines of the KPI matrix (metrics.md §10), window M-2 .. M.",
        columns=(*_month_columns(), Column("dimension", "TEXT"), Column("dimension_value", "TEXT"),
                 Column("metric_no", "INTEGER"), Column("metric_code", "TEXT"), Column("metric_name_ru", "TEXT"),
                 Column("metric_name", "TEXT", localized=kpi_line_name_sql), Column("unit", "TEXT"),
                 Column("value", "NUMERIC"), Column("value_text", "TEXT", expression=VALUE_TEXT_SQL))),
    Dataset(
        "receivables", "receivables_monthly", owner_column="manager_id",
        description="reporting.receivables_monthly: ДЗ / ПДЗ and payment discipline per manager (metrics.md §8); "
                    "the all-managers row has manager_id NULL.",
        columns=(*_month_columns(), Column("manager_id", "TEXT"),
                 Column("manager", "TEXT", localized=lambda language: all_managers_sql("manager_id", language)),
                 *(Column(name, "NUMERIC") for name in ("receivables", "overdue_receivables", "overdue_share")),
                 Column("overdue_clients", "BIGINT"),
                 *(Column(name, "NUMERIC") for name in ("planned_payments", "payments", "payment_discipline",
                                                        "paid_on_time", "on_time_share")),
                 Column("is_all_managers", "BOOLEAN"), Column("clients", "BIGINT")),
        # one row per month and manager: MAX is that row's figure on a chart split by manager
        metrics=(Metric("overdue_share_value", "MAX(overdue_share)", PERCENT),
                 Metric("payment_discipline_value", "MAX(payment_discipline)", PERCENT),
                 Metric("on_time_share_value", "MAX(on_time_share)", PERCENT))),
    Dataset(
        "retail_audit", "retail_audit_monthly", owner_column="dimension_value",
        owner_clause=REP_ROWS_CLAUSE,
        description="reporting.retail_audit_monthly: КП and КД (metrics.md §9) by dimension.",
        columns=(*_month_columns(), Column("dimension", "TEXT"), Column("dimension_value", "TEXT"),
                 *(Column(name, "BIGINT") for name in ("audited_points", "planogram_points")),
                 Column("planogram_coverage", "NUMERIC"),
                 *(Column(name, "BIGINT") for name in ("mml_skus", "mml_present")),
                 Column("distribution_coefficient", "NUMERIC")),
        # the ratios of the sums: the row's КП / КД for one row, the right one over several values
        # of one dimension (the points are split among them), never an average of averages
        metrics=(Metric("planogram_coverage_ratio", "SUM(planogram_points)::numeric / NULLIF(SUM(audited_points), 0)",
                        PERCENT),
                 Metric("distribution_coefficient_ratio",
                        "SUM(mml_present)::numeric / NULLIF(SUM(audited_points * mml_skus), 0)", PERCENT))),
    Dataset(
        "retail_audit_rep", "bi_retail_audit_by_rep", owner_column="rep_id",
        description="reporting.retail_audit_monthly, dimension rep (the points' rep as of the month).",
        sql=("SELECT month, dimension_value AS rep_id, audited_points, planogram_points, planogram_coverage,\n"
             "       mml_skus, mml_present, distribution_coefficient\n"
             "FROM reporting.retail_audit_monthly\nWHERE dimension = 'rep'"),
        columns=(*_month_columns(), Column("rep_id", "TEXT"),
                 *(Column(name, "BIGINT") for name in ("audited_points", "planogram_points")),
                 Column("planogram_coverage", "NUMERIC"),
                 *(Column(name, "BIGINT") for name in ("mml_skus", "mml_present")),
                 Column("distribution_coefficient", "NUMERIC"))),
)}

_COVERAGE_TABLE = ("okb", "pakb", "akb", "coverage_okb", "coverage_pakb", "akb_3m", "stable_akb_3m", "stability_3m")
_COVERAGE_FORMATS = {"coverage_okb": PERCENT, "coverage_pakb": PERCENT, "stability_3m": PERCENT}

CHARTS: dict[str, Chart] = {c.key: c for c in (
    # Клиентская база
    Chart("status_mix", "status_summary", "table",
          columns=("manager_id", "role", "status_name", "clients", "share", "plan_share", "on_plan"),
          order_by=("manager_id", "status_order"), formats={"share": PERCENT, "plan_share": PERCENT}, height=70),
    Chart("status_trend", "client_status", "bars", metrics=("client_count",), groupby=("status_name",),
          monthly=False),
    Chart("status_flow", "status_flow", "matrix", rows=("from_status_name",), cols=("to_status_name",),
          metrics=("clients_sum",), height=70),
    Chart("events", "client_status", "lines", metrics=("new_events", "returned_events", "lost_events"),
          monthly=False),
    # Покрытие
    Chart("cov_territory", "coverage_territory", "table", columns=("territory", *_COVERAGE_TABLE),
          order_by=("territory",), formats=_COVERAGE_FORMATS),
    Chart("cov_rep", "coverage_rep", "table", columns=("rep_id", *_COVERAGE_TABLE), order_by=("rep_id",),
          formats=_COVERAGE_FORMATS),
    Chart("cov_channel", "coverage_channel", "table", columns=("channel", *_COVERAGE_TABLE),
          order_by=("channel",), formats=_COVERAGE_FORMATS),
    Chart("cov_category", "category_coverage", "table",
          columns=("category", "category_akb", "akb", "category_coverage"), order_by=("category",),
          formats={"category_coverage": PERCENT}),
    Chart("cov_stability", "coverage_total", "lines", metrics=("akb_sum", "stable_akb_sum"), monthly=False),
    # Визиты
    Chart("visits_reps", "visits", "table",
          columns=("rep_id", "planned_visits", "actual_visits", "orders", "effective_orders",
                   "visit_effectiveness", "kpd_effectiveness", "stt_3m", "stt_share", "rep_cost",
                   "cost_per_visit", "cost_per_order"),
          order_by=("rep_id",),
          formats={"visit_effectiveness": PERCENT, "kpd_effectiveness": PERCENT, "stt_share": PERCENT,
                   "rep_cost": MONEY, "cost_per_visit": MONEY, "cost_per_order": MONEY}),
    Chart("visits_trend", "visits", "bars", metrics=("planned_sum", "actual_sum"), monthly=False),
    # Менеджеры
    Chart("scorecard", "scorecard", "table",
          columns=("manager_id", "role", "clients", "active_clients", "overloaded", "rotation_candidates",
                   "new_clients", "returned_clients", "handover_candidates", "handed_over_3m",
                   "handover_target", "on_plan", "at_risk_clients", "call_list_clients", "revenue"),
          order_by=("manager_id",), formats={"revenue": MONEY}),
    # every client of the base, the manager's riskiest first (the call list flagged; a lost client,
    # already stopped, and a month without a model have no rank and come last)
    Chart("call_list", "churn_risk", "table",
          columns=("manager_id", "risk_rank", "client_name", "client_id", "status_name", "tier", "p_lost_3m",
                   "on_call_list", "reasons_text", "last_shipment_date", "revenue_12m"),
          order_by=("manager_id", "risk_rank", "client_id"), formats={"p_lost_3m": PERCENT, "revenue_12m": MONEY},
          height=80),
    Chart("rotation_outcomes", "rotation_outcomes", "table",
          columns=("month_label", "candidate_month", "candidates", "rotated", "rotated_active_again",
                   "rotated_active_again_share", "stayed", "stayed_active_again", "stayed_active_again_share",
                   "rotated_active_again_share_to_date", "stayed_active_again_share_to_date"),
          order_by=("month",), monthly=False, height=60,
          formats={"rotated_active_again_share": PERCENT, "stayed_active_again_share": PERCENT,
                   "rotated_active_again_share_to_date": PERCENT, "stayed_active_again_share_to_date": PERCENT}),
    Chart("rotation", "rotation", "table",
          columns=("client_id", "manager_id", "status_name", "tier", "last_shipment_date", "months_inactive",
                   "revenue_12m"),
          order_by=("manager_id", "client_id"), formats={"revenue_12m": MONEY}, height=70),
    # Матрица КПЭ
    Chart("kpi_matrix", "kpi_matrix", "table", columns=("metric_no", "metric_name", "dimension_value", "value_text"),
          order_by=("metric_no", "dimension_value"), height=110, cell_bars=False),
    # one share per chart, a line per manager (and all managers): a chart of several metrics split
    # by manager names its lines by the metrics' codes, not their labels
    *(Chart(key, "receivables", "lines", metrics=(metric,), groupby=("manager",), monthly=False,
            formats={"y_axis": PERCENT})
      for key, metric in (("recv_overdue", "overdue_share_value"), ("recv_discipline", "payment_discipline_value"),
                          ("recv_on_time", "on_time_share_value"))),
    Chart("recv_table", "receivables", "table",
          columns=("month_label", "manager", "receivables", "overdue_receivables", "overdue_share",
                   "planned_payments", "payments", "payment_discipline", "on_time_share"),
          order_by=("month", "manager"), monthly=False, height=60,
          formats={"receivables": MONEY, "overdue_receivables": MONEY, "overdue_share": PERCENT,
                   "planned_payments": MONEY, "payments": MONEY, "payment_discipline": PERCENT,
                   "on_time_share": PERCENT}),
    Chart("shelf_trend", "retail_audit", "lines",
          metrics=("planogram_coverage_ratio", "distribution_coefficient_ratio"), monthly=False,
          formats={"y_axis": PERCENT}),
    Chart("shelf_rep", "retail_audit_rep", "table",
          columns=("rep_id", "audited_points", "planogram_points", "planogram_coverage", "mml_present",
                   "distribution_coefficient"),
          order_by=("rep_id",), formats={"planogram_coverage": PERCENT, "distribution_coefficient": PERCENT}),
)}

DASHBOARDS: dict[str, Dashboard] = {d.key: d for d in (
    Dashboard("client_base", "client-base",
              layout=((("status_mix", 6), ("status_flow", 6)), (("status_trend", 6), ("events", 6)))),
    Dashboard("coverage", "coverage",
              layout=((("cov_territory", 12),), (("cov_rep", 6), ("cov_channel", 6)),
                      (("cov_category", 6), ("cov_stability", 6))),
              filters=("month", "manager", "territory"), manager_source="coverage_rep"),
    Dashboard("visits", "visits", layout=((("visits_reps", 12),), (("visits_trend", 12),)),
              manager_source="visits"),
    Dashboard("managers", "managers", layout=((("scorecard", 12),), (("call_list", 12),), (("rotation", 12),),
                                              (("rotation_outcomes", 12),))),
    # the matrix of the month (at a quarter's last month: of the quarter) for one dimension, the
    # receivables of the managers (the manager filter offers them and the all-managers row), the shelf
    Dashboard("kpi_matrix", "kpi-matrix",
              layout=((("kpi_matrix", 12),), (("recv_overdue", 4), ("recv_discipline", 4), ("recv_on_time", 4)),
                      (("recv_table", 12),), (("shelf_trend", 6), ("shelf_rep", 6))),
              filters=("month", "dimension", "dimension_value", "manager"), manager_source="receivables"),
)}

# Where each native filter points: (dataset key, column). The filter applies by column name
# to every chart of the dashboard whose dataset has that column (bundle.py scopes it).
FILTER_TARGETS: dict[str, tuple[str, str]] = {
    "month": ("scorecard", "month_label"),
    "manager": ("scorecard", "manager"),
    "territory": ("coverage_territory", "territory"),
    "dimension": ("kpi_matrix", "dimension"),
    "dimension_value": ("kpi_matrix", "dimension_value"),
}
# Filters that hold exactly one value, required, the first option by default (sorted descending:
# the latest month; `total` before territory and rep), applied before the charts load.
SINGLE_FILTERS = ("month", "dimension")
# child filter -> parent: the child offers only the values under the parent's choice
CASCADES: dict[str, str] = {"dimension_value": "dimension"}
FILTER_COLUMNS = {name: column for name, (_, column) in FILTER_TARGETS.items()}


def metric_label_key(metric: str) -> str:
    return f"m_{metric}"


def validate() -> list[str]:
    """Every reference resolves and every label exists in both languages: problems, or []."""
    problems = []
    for chart in CHARTS.values():
        dataset = DATASETS.get(chart.dataset)
        if dataset is None:
            problems.append(f"chart {chart.key}: unknown dataset {chart.dataset}")
            continue
        names = dataset.column_names
        metrics = {m.name for m in dataset.metrics}
        for column in (*chart.columns, *chart.order_by, *chart.groupby, *chart.rows, *chart.cols):
            if column not in names:
                problems.append(f"chart {chart.key}: {dataset.key} has no column {column}")
        for metric in chart.metrics:
            if metric not in metrics:
                problems.append(f"chart {chart.key}: {dataset.key} has no metric {metric}")
            if metric_label_key(metric) not in LABELS:
                problems.append(f"metric {metric}: no label")
        if chart.title_key not in LABELS:
            problems.append(f"chart {chart.key}: no title label {chart.title_key}")
    for dataset in DATASETS.values():
        for column in dataset.columns:
            if column.name not in LABELS:
                problems.append(f"dataset {dataset.key}: column {column.name} has no label")
        if dataset.owner_column and dataset.owner_column not in dataset.column_names:
            problems.append(f"dataset {dataset.key}: owner column {dataset.owner_column} missing")
        if dataset.owner_clause and "{id}" not in dataset.owner_clause:
            problems.append(f"dataset {dataset.key}: owner clause without {{id}}")
    for dashboard in DASHBOARDS.values():
        for key in dashboard.chart_keys:
            if key not in CHARTS:
                problems.append(f"dashboard {dashboard.key}: unknown chart {key}")
        if any(sum(width for _, width in row) > 12 for row in dashboard.layout):
            problems.append(f"dashboard {dashboard.key}: a row wider than 12")
        for child, parent in CASCADES.items():
            if child in dashboard.filters and parent not in dashboard.filters:
                problems.append(f"dashboard {dashboard.key}: filter {child} needs its parent {parent}")
        for name in dashboard.filters:
            if name not in FILTER_TARGETS:
                problems.append(f"dashboard {dashboard.key}: unknown filter {name}")
            if f"filter_{name}" not in LABELS:
                problems.append(f"filter {name}: no label")
        if dashboard.title_key not in LABELS:
            problems.append(f"dashboard {dashboard.key}: no title label")
        if "manager" not in DATASETS.get(dashboard.manager_source, Dataset("", "", (), None)).column_names:
            problems.append(f"dashboard {dashboard.key}: manager_source {dashboard.manager_source} has no manager")
    for key, names in LABELS.items():
        if len(names) != len(LANGUAGES) or not all(names):
            problems.append(f"label {key}: needs {len(LANGUAGES)} non-empty names")
    return problems
