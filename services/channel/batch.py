"""Batch intake over HTTP: up to 1,000 filings in one request and one transaction, one result per filing in order.

A filing that fails its schema or the intake rules is rejected on its own, with the problem that names its
fields; the others go in. Idempotent per (platform, platform_complaint_id), as single intake.
"""


from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.codes import IntakeChannel
from contracts.events.channel import ComplaintFiling
from services.channel import metrics
from services.channel.domain import IntakeRejected, check_filing
from services.channel.intake import Intake
from services.channel.responses import PROBLEMS
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

MAX_FILINGS: Final = 1000


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filings: list[dict[str, Any]] = Field(description=f"Up to {MAX_FILINGS} filings, each as the body of POST /v1/complaints")


class ItemResult(BaseModel):
    index: int
    status: str = Field(description="created, duplicate (with the existing id) or rejected (with the problem)")
    platform_complaint_id: str | None = None
    complaint_id: str | None = None
    kind: str | None = None
    receipt_code: str | None = None
    linked_complaint_id: str | None = None
    linked_receipt_code: str | None = None
    repeat: str | None = None
    problem: dict[str, Any] | None = None


class BatchResult(BaseModel):
    created: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


def _schema_problem(index: int, exc: ValidationError) -> dict[str, Any]:
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
    fields = ", ".join(e["field"] or "body" for e in errors)
    return {"type": PROBLEMS + "validation", "title": "Invalid filing", "status": 422,
            "detail": f"filings[{index}]: invalid field(s): {fields}", "errors": errors}


def build_router(service: Service, intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["complaints"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.post("/complaints/batch", response_model=BatchResult,
                 summary=f"A platform files up to {MAX_FILINGS} complaints or reports at once; one result per filing, in order")
    async def post_batch(body: Batch, caller: CurrentCaller) -> BatchResult:
        require_role(caller, Role.PLATFORM)
        assert caller.platform_id is not None
        if len(body.filings) > MAX_FILINGS:
            raise Problem(422, "Batch too large", f"{len(body.filings)} filings; at most {MAX_FILINGS} per batch",
                          PROBLEMS + "batch-too-large",
                          errors=[{"field": "filings", "message": f"at most {MAX_FILINGS} items", "type": "too_long"}])
        now = service.clock.now()
        results: list[ItemResult | None] = [None] * len(body.filings)
        good: list[tuple[int, ComplaintFiling]] = []
        for index, raw in enumerate(body.filings):
            pcid = raw.get("platform_complaint_id") if isinstance(raw.get("platform_complaint_id"), str) else None
            try:
                filing = ComplaintFiling.model_validate(raw)
                check_filing(filing, now)
            except ValidationError as exc:
                results[index] = ItemResult(index=index, status="rejected", platform_complaint_id=pcid, problem=_schema_problem(index, exc))
                continue
            except IntakeRejected as exc:
                results[index] = ItemResult(index=index, status="rejected", platform_complaint_id=pcid, problem={
                    "type": PROBLEMS + exc.reason, "title": "Filing refused", "status": 422, "detail": exc.detail})
                continue
            good.append((index, filing))
        async with service.uow() as uow:
            filed = await intake.file(uow, platform_id=caller.platform_id, filings=[f for _, f in good], intake=IntakeChannel.PLATFORM_API)
            await uow.commit()
        metrics.filed(IntakeChannel.PLATFORM_API, filed)
        for (index, _), item in zip(good, filed, strict=True):
            fields = {k: v for k, v in item.body().items() if k != "duplicate"}
            results[index] = ItemResult(index=index, status="duplicate" if item.duplicate else "created",
                                        platform_complaint_id=item.platform_complaint_id, **fields)
        done = [r for r in results if r is not None]
        return BatchResult(created=sum(r.status == "created" for r in done), duplicates=sum(r.status == "duplicate" for r in done),
                           rejected=sum(r.status == "rejected" for r in done), results=done)

    return router
