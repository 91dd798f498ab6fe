"""The workflow service: deployments, instances, tasks, messages, timers and their history."""

from .clock import Clock, SystemClock
from .contracts import (
    Actor,
    AuditView,
    DeploymentInfo,
    HandlerContext,
    InstanceView,
    TaskView,
    TimerView,
)
from .errors import (
    BundleInvalid,
    Conflict,
    EngineError,
    Forbidden,
    HandlerFailed,
    InvalidData,
    NotFound,
    Problem,
    WorkflowFailed,
)
from .service import Engine

__all__ = [
    "Actor",
    "AuditView",
    "BundleInvalid",
    "Clock",
    "Conflict",
    "DeploymentInfo",
    "Engine",
    "EngineError",
    "Forbidden",
    "HandlerContext",
    "HandlerFailed",
    "InstanceView",
    "InvalidData",
    "NotFound",
    "Problem",
    "SystemClock",
    "TaskView",
    "TimerView",
    "WorkflowFailed",
]
