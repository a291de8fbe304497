"""Early warning: which clients of the base are about to be lost (issue 13).

dbt builds what is known of each client at the end of every month
(``marts.fct_client_churn_features_monthly``: data of that month and earlier only);
this package turns it into a probability per client:

- :mod:`.labels`: the outcome a model learns, "no activity in each of the next 3 months",
  known for a month only once the 3 months after it are in the warehouse;
- :mod:`.model`: a regularised logistic regression (scikit-learn), calibrated, retrained at
  every close on the months whose outcome is known, with the features that push each client's
  risk up most, in plain Russian and English;
- :mod:`.backtest`: the model against the status rule and BG/NBD P(alive), month by month, each
  scored with only what was known then.
"""
