"""Every route of the staff console and the JSON API, in one table.

``ROUTES`` is the list the access-control test walks: each route is called as a user of a
foreign union body and must answer 403/404 (or, for the few that show only the caller's
own data, nothing of another body's). A route added here without an entry in that test
fails the test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.console.api import Api
from bot.console.auth import console_middleware
from bot.console.case_views import CaseViews
from bot.console.handoff_views import HandoffViews
from bot.console.misc_views import MiscViews
from bot.console.model_views import ModelViews
from bot.console.nlu_views import NluViews
from bot.console.pages import STATIC, setup_templates
from bot.console.review_views import ReviewViews
from bot.gateway import Gateway

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


def console_routes(gateway: Gateway) -> list[Route]:
    cases, handoffs, misc, api = CaseViews(gateway), HandoffViews(gateway), MiscViews(gateway), Api(gateway)
    reviews, nlu, models = ReviewViews(gateway), NluViews(gateway), ModelViews(gateway)
    return [
        Route("GET", "/console/login", misc.login_form),
        Route("POST", "/console/login", misc.login_post),
        Route("POST", "/console/logout", misc.logout),
        Route("GET", "/console", misc.home),
        Route("GET", "/console/", misc.home),
        Route("GET", "/console/live", misc.live),
        Route("GET", "/console/cases", cases.queue),
        Route("GET", "/console/cases/export.{fmt:(csv|xlsx)}", cases.export),
        Route("GET", "/console/cases/{number}", cases.case),
        Route("POST", "/console/cases/{number}/actions", cases.action),
        Route("POST", "/console/cases/{number}/reveal", cases.reveal),
        Route("POST", "/console/cases/{number}/save-test", cases.save_test),
        Route("GET", "/console/cases/{number}/evidence/{evidence_id}", cases.evidence),
        Route("GET", "/console/handoffs", handoffs.index),
        Route("GET", "/console/handoffs/feed", handoffs.feed),
        Route("GET", "/console/handoffs/{handoff_id:\\d+}", handoffs.page),
        Route("GET", "/console/handoffs/{handoff_id:\\d+}/feed", handoffs.conversation_feed),
        Route("POST", "/console/handoffs/{handoff_id:\\d+}/take", handoffs.take),
        Route("POST", "/console/handoffs/{handoff_id:\\d+}/reply", handoffs.reply),
        Route("POST", "/console/handoffs/{handoff_id:\\d+}/handback", handoffs.handback),
        Route("GET", "/console/alerts", misc.alerts),
        Route("POST", "/console/alerts/seen", misc.alerts_seen),
        Route("GET", "/console/reviews", reviews.index),
        Route("POST", "/console/reviews/{review_id:\\d+}/votes", reviews.vote),
        Route("GET", "/console/dashboard", misc.dashboard),
        Route("GET", "/console/account", misc.account_page),
        Route("POST", "/console/account/password", misc.change_password),
        Route("POST", "/console/account/link", misc.link_code),
        Route("POST", "/console/account/unlink", misc.unlink),
        Route("GET", "/console/access-log", misc.access_log),
        Route("GET", "/console/nlu", nlu.index),
        Route("POST", "/console/nlu/annotate", nlu.annotate),
        Route("GET", "/console/models", models.index),
        Route("POST", "/console/models/activate", models.activate),
        Route("POST", "/console/models/rollback", models.rollback),
        Route("POST", "/console/models/train", models.train),
        Route("POST", "/api/login", api.login),
        Route("GET", "/api/cases", api.cases),
        Route("GET", "/api/cases/{number}", api.case),
        Route("POST", "/api/cases/{number}/actions", api.case_action),
        Route("GET", "/api/handoffs", api.handoffs),
        Route("GET", "/api/handoffs/{handoff_id:\\d+}", api.handoff),
        Route("POST", "/api/handoffs/{handoff_id:\\d+}/take", api.handoff_take),
        Route("POST", "/api/handoffs/{handoff_id:\\d+}/messages", api.handoff_message),
        Route("POST", "/api/handoffs/{handoff_id:\\d+}/handback", api.handoff_handback),
        Route("GET", "/api/reviews", api.reviews),
        Route("POST", "/api/reviews/{review_id:\\d+}/votes", api.review_vote),
        Route("GET", "/api/stats", api.stats),
        Route("GET", "/api/alerts", api.alerts),
    ]


def add_console_routes(app: web.Application, gateway: Gateway) -> None:
    """The console's pages, its static files (served here, no CDN) and the JSON API."""
    app.middlewares.append(console_middleware(gateway))
    setup_templates(app, gateway)
    for route in console_routes(gateway):
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_static("/console/static/", STATIC, append_version=False)
