"""The token API's routes, mounted by the app in one block."""

from __future__ import annotations

from starlette.routing import Route

from passgate.tokenapi import admin, jobapi, universal

ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def routes() -> list[Route]:
    return [
        Route("/api/wanda/hcaptcha/universal", universal.endpoint, methods=["POST"]),
        Route("/api/records/{record_id}", universal.record, methods=["GET"]),
        Route("/api/createJob", jobapi.create, methods=["POST"]),
        Route("/api/getJobResult", jobapi.result, methods=["POST"]),
        Route("/api/admin/keys", admin.keys, methods=["GET", "POST"]),
        Route("/api/admin/keys/{name}/revoke", admin.revoke_key, methods=["POST"]),
        Route("/api/admin/grants", admin.grants, methods=["GET", "POST"]),
        Route("/api/admin/grants/{name}/{sitekey}", admin.remove_grant, methods=["DELETE"]),
        Route("/api/admin/records", admin.records, methods=["GET"]),
        Route("/api/admin/sites", admin.sites, methods=["GET"]),
        Route("/api/admin/sites/{sitekey}", admin.site, methods=["PATCH"]),
        Route("/api/admin/{path:path}", admin.not_found, methods=ANY),
    ]
