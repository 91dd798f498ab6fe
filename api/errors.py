"""Engine errors as JSON answers: `{"error": code, "message": text, "fields": {...}}`."""

from __future__ import annotations

from flask import jsonify

from engine import (
    BundleInvalid,
    Conflict,
    EngineError,
    Forbidden,
    HandlerFailed,
    InvalidData,
    NotFound,
    WorkflowFailed,
)

STATUS = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidData: 422,
    BundleInvalid: 422,
    HandlerFailed: 502,
    WorkflowFailed: 422,
}


def engine_error_response(err: EngineError):
    status = next((code for kind, code in STATUS.items() if isinstance(err, kind)), 400)
    body: dict = {"error": err.code, "message": err.message}
    if isinstance(err, InvalidData):
        body["fields"] = err.fields
    if isinstance(err, BundleInvalid):
        body["problems"] = [p.as_dict() for p in err.problems]
    return jsonify(body), status
