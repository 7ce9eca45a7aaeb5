"""The Flask + Gunicorn baseline: the stack LyftLearn Serving runs on, with servekit's /infer
contract for the bench models (the same artifacts, arithmetic, envelope checks and response).

    gunicorn --workers 2 --worker-class gthread --threads 4 --bind 127.0.0.1:8000 --chdir bench/servers flask_app:app

Uses only Debian's python3-flask and gunicorn; the models are plain Python (no numpy), which for
30 features is as fast as numpy's per-call overhead allows.
"""
import json
import math
import os
import re
import uuid

from flask import Flask, Response, request

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(HERE, "..", "service", "models")
SAFE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
ALLOWED = {"model_id", "features", "request_id", "parameters"}


def _load_models():
    with open(os.path.join(MODELS_DIR, "sum", "1", "offset.json")) as f:
        offset = json.load(f)["offset"]
    with open(os.path.join(MODELS_DIR, "tabular", "1", "coefficients.json")) as f:
        c = json.load(f)
    names = c["feature_names"]
    w = [c["weights"][i] / c["scale"][i] for i in range(len(names))]
    bias = c["intercept"] - sum(w[i] * c["mean"][i] for i in range(len(names)))
    threshold = c["threshold"]

    def is_number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def predict_sum(f):
        if not isinstance(f, dict):
            return None
        total = offset
        for v in f.values():
            if not is_number(v):
                return None
            total += v
        # JSON like JavaScript's: 3, not 3.0.
        return int(total) if isinstance(total, float) and total.is_integer() and abs(total) < 2**53 else total

    def predict_tabular(f):
        if not isinstance(f, dict):
            return None
        z = bias
        for name, wi in zip(names, w):
            v = f.get(name)
            if not is_number(v):
                return None
            z += wi * v
        p = 1.0 / (1.0 + math.exp(-z))
        return {"benign_probability": p, "label": "benign" if p >= threshold else "malignant"}

    return {"sum": ("1", predict_sum), "tabular": ("1", predict_tabular)}


MODELS = _load_models()
app = Flask(__name__)


# The response headers servekit sends on every response (src/server/security-headers.ts).
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


def _json(status, body, request_id=None):
    headers = dict(SECURITY_HEADERS)
    if request_id is not None:
        headers["x-request-id"] = request_id
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json; charset=utf-8", headers=headers)


def _error(status, code, message):
    return _json(status, {"error": {"code": code, "message": message}})


@app.post("/infer")
def infer():
    if not (request.content_type or "").startswith("application/json"):
        return _error(415, "unsupported_media_type", "request body must be application/json")
    try:
        body = json.loads(request.get_data())
    except ValueError:
        return _error(400, "invalid_json", "request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "invalid_request", "body: must be object")
    for k in body:
        if k not in ALLOWED:
            return _error(400, "invalid_request", f"body.{k}: is not a known field")
    model_id = body.get("model_id")
    if not isinstance(model_id, str) or not 1 <= len(model_id) <= 256:
        return _error(400, "invalid_request", "body.model_id: must be string")
    if "features" not in body:
        return _error(400, "invalid_request", "body.features: is required")
    body_id = body.get("request_id")
    if body_id is not None and (not isinstance(body_id, str) or not 1 <= len(body_id) <= 128):
        return _error(400, "invalid_request", "body.request_id: must be string")
    if "parameters" in body and not isinstance(body["parameters"], dict):
        return _error(400, "invalid_request", "body.parameters: must be object")
    model = MODELS.get(model_id)
    if model is None:
        return _error(404, "model_not_found", f'model "{model_id[:64]}" not found')
    header = request.headers.get("x-request-id")
    if body_id is not None and SAFE_ID.match(body_id):
        request_id = body_id
    elif header is not None and SAFE_ID.match(header):
        request_id = header
    else:
        request_id = str(uuid.uuid4())
    version, predict = model
    output = predict(body["features"])
    if output is None:
        return _error(400, "invalid_request", "features: invalid")
    return _json(200, {"output": output, "model_id": model_id, "model_version": version, "request_id": request_id}, request_id)
