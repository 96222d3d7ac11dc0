"""The public IBM Telco customer-churn data set, the benchmark of the churn model (``benchmarks/bench_churn.py``).

Kept beside the repository, not in it: ``<repo>/../shared/datasets/telco_churn/Telco-Customer-Churn.csv``.
"""

from pathlib import Path

import pandas as pd

from app.core.config import REPO_ROOT
from app.ml.churn import ChurnClassifier

TELCO_CSV = REPO_ROOT.parent / "shared/datasets/telco_churn/Telco-Customer-Churn.csv"
ADD_ONS = ("OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies")
RAW_NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges")
RAW_CATEGORICAL = ("gender", "SeniorCitizen", "Partner", "Dependents", "PhoneService", "MultipleLines",
                   "InternetService", *ADD_ONS, "Contract", "PaperlessBilling", "PaymentMethod")
# What a churn modeller derives for subscription data: services held, what a month has cost on average and how far
# the current bill is from that (a recent price rise), and the tenure in bands (churn falls steeply in year one).
ENGINEERED_NUMERIC = (*RAW_NUMERIC, "services", "average_monthly_charge", "charge_change")
ENGINEERED_CATEGORICAL = (*RAW_CATEGORICAL, "tenure_band", "contract_and_internet")
TENURE_BANDS = (-1, 6, 12, 24, 48, 72)


def load_telco(path: Path = TELCO_CSV) -> tuple[pd.DataFrame, pd.Series]:
    """Columns (raw and engineered) and the label (1 = churned). ``FileNotFoundError`` when the file is absent."""
    frame = pd.read_csv(path)
    # The 11 blank totals are customers in their first month (tenure 0): nothing billed yet.
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"], errors="coerce").fillna(0.0)
    frame["SeniorCitizen"] = frame["SeniorCitizen"].map({0: "No", 1: "Yes"})
    frame["services"] = (frame[["PhoneService", *ADD_ONS]] == "Yes").sum(axis=1) + (frame["InternetService"] != "No")
    frame["average_monthly_charge"] = (frame["TotalCharges"] / frame["tenure"]).where(frame["tenure"] > 0,
                                                                                     frame["MonthlyCharges"])
    frame["charge_change"] = frame["MonthlyCharges"] - frame["average_monthly_charge"]
    frame["tenure_band"] = pd.cut(frame["tenure"], TENURE_BANDS).astype(str)
    frame["contract_and_internet"] = frame["Contract"] + " / " + frame["InternetService"]
    return frame, (frame["Churn"] == "Yes").astype(int)


def telco_churn_model() -> ChurnClassifier:
    """The CRM's churn model, configured with the Telco columns."""
    return ChurnClassifier(numeric=ENGINEERED_NUMERIC, categorical=ENGINEERED_CATEGORICAL)
