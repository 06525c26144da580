"""OpenAPI descriptions of partition proposals (:mod:`web.planning`): start one, accept one.

A proposal is a background job (:mod:`web.api_doc_jobs`); accepting it is one planning edit,
answered as :mod:`web.api_doc_planning`'s ``PlanEdit``.
"""

from __future__ import annotations

from web.openapi import add_schemas, errors, json_body, json_reply

add_schemas(
    {
        "NewPartition": {
            "type": "object",
            "title": "A partition proposal of one community: its grids drawn anew",
            "required": ["community"],
            "properties": {
                "community": {"type": "string", "description": "the community's 12-digit code"},
                "households": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": 400,
                    "description": "households a grid should hold (the middle of the range)",
                },
                "tolerance": {
                    "type": "number",
                    "minimum": 0,
                    "exclusiveMaximum": 1,
                    "default": 0.2,
                    "description": "the share off `households` a grid may be",
                },
            },
        },
        "PartitionAccept": {
            "type": "object",
            "required": ["job"],
            "properties": {
                "job": {"type": "string", "description": "the id of a done partition job"}
            },
        },
    }
)

PARTITION = {
    "summary": "Start computing a partition proposal of one community (a background job)",
    "description": "The community's grids drawn anew from its street blocks into households × "
    "(1 ± tolerance), as `gridmap grids auto` draws them, numbered in reading order in the "
    "workspace's code form. Nothing is written. Follow the job (kind `partition`) at its url "
    "(/api/jobs/{job_id}); its result is the proposal as GeoJSON: the grids (code, name, "
    "households, residents, buildings, area_m2) and `proposal` (community, bounds, figures — "
    "grids, in_range, max_deviation, and the same of the grids now under `current` — and the "
    "versions of the community's grids it was made from). Accept it with "
    "POST /api/grids/partition/accept. 404 for a community that is not there, 429 when the "
    "caller's or the server's queue is full.",
    "tags": ["planning"],
    "requestBody": json_body("NewPartition"),
    "responses": {
        "202": json_reply(
            "The job, queued or running",
            "Job",
            headers={"Location": {"schema": {"type": "string"}}},
        ),
        **errors(400, 403, 404, 429),
    },
}

PARTITION_ACCEPT = {
    "summary": "Accept a partition proposal: the community's grids replaced by the proposed ones",
    "description": "One transaction, one version of the plan, undone as one by your undo: the "
    "community's grids are replaced, every grid_code of buildings, households, facilities and "
    "cameras there and the figures recomputed, the lineage recorded (old codes → new codes); "
    "a new grid keeps the worker of the old grid covering at least half of it. 409 with "
    "`current` (the community's grids now) when one of them changed since the proposal was "
    "computed; 409 `job_not_ready` before the job is done; 404 for a job that is not yours or "
    "expired.",
    "tags": ["planning"],
    "requestBody": json_body("PartitionAccept"),
    "responses": {
        "200": json_reply("What the acceptance changed, and the community's grids", "PlanEdit"),
        "409": json_reply("A grid changed since the proposal, or the job is not done", {}),
        **errors(400, 403, 404),
    },
}


__all__ = ["PARTITION", "PARTITION_ACCEPT"]
