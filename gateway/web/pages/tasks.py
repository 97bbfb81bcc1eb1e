"""Staff tasks on Today (``gateway.pipeline.casework``): mark a call-back, an interpreter call or a welfare
concern done. A call-back's case closes when its task is done; only the DSL closes a welfare concern."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from gateway.models import CaseTask, StaffRole, TaskKind
from gateway.pipeline.casework import finish_task
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, get_or_404
from gateway.web.templating import flash

router = APIRouter(dependencies=STAFF_DEPENDENCIES)


@router.post("/tasks/{task_id}/done")
def task_done(request: Request, task_id: int, db: DbSession, staff: CurrentStaff) -> Response:
    """Mark one task done (the call was made, the interpreter call happened, the DSL has the concern in hand)."""
    task = get_or_404(db, CaseTask, task_id, "task")
    if task.kind is TaskKind.WELFARE and staff.role is not StaffRole.DSL:
        raise HTTPException(status_code=403, detail="Only the DSL closes a welfare concern.")
    if finish_task(db, task, staff.id):
        record_audit(db, staff, "task_done", "case_task", task.id, {"kind": task.kind.value, "case_id": task.case_id})
        flash(request, f"Done: {task.title}", "good")
    return RedirectResponse("/", status_code=303)
