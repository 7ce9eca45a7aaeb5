"""Trains the bench's tabular model and writes its artifact (run with Debian's python3-sklearn).

    /usr/bin/python3 bench/service/train_tabular.py

A logistic regression over the 30 features of scikit-learn's breast_cancer data set, standardised,
fixed seed: the output is deterministic. It writes models/tabular/1/coefficients.json (what the
servekit model, the bare node:http server and the Flask app all read) and testdata.json (the
self-test cases, predicted by scikit-learn itself) and bench/service/requests/tabular.json (one
request body the load generators send).
"""
import json
import os
import re

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models", "tabular", "1")


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


data = load_breast_cancer()
names = [snake(n) for n in data.feature_names]
x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.25, random_state=7, stratify=data.target)
pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
pipe.fit(x_train, y_train)
scaler, clf = pipe.steps[0][1], pipe.steps[1][1]

# target 1 is "benign" in this data set; the model outputs P(benign).
coefficients = {
    "feature_names": names,
    "mean": [float(v) for v in scaler.mean_],
    "scale": [float(v) for v in scaler.scale_],
    "weights": [float(v) for v in clf.coef_[0]],
    "intercept": float(clf.intercept_[0]),
    "threshold": 0.5,
}


def row(i):
    return {n: float(v) for n, v in zip(names, x_test[i])}


cases = []
for i in range(5):
    p = float(pipe.predict_proba(x_test[i : i + 1])[0][1])
    cases.append({"name": f"test row {i}", "features": row(i), "expected": {"benign_probability": p, "label": "benign" if p >= 0.5 else "malignant"}})

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "coefficients.json"), "w") as f:
    json.dump(coefficients, f, indent=1)
    f.write("\n")
with open(os.path.join(OUT, "testdata.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
with open(os.path.join(OUT, "model.json"), "w") as f:
    json.dump(
        {
            "description": "Logistic regression over the 30 breast_cancer features (bench model)",
            "metadata": {"test_accuracy": round(float(pipe.score(x_test, y_test)), 4), "training_rows": int(len(x_train)), "sklearn": __import__("sklearn").__version__},
        },
        f,
        indent=1,
    )
    f.write("\n")
os.makedirs(os.path.join(HERE, "requests"), exist_ok=True)
with open(os.path.join(HERE, "requests", "tabular.json"), "w") as f:
    json.dump({"model_id": "tabular", "features": row(5)}, f, separators=(",", ":"))
print(f"wrote {OUT}: test accuracy {pipe.score(x_test, y_test):.4f}")
