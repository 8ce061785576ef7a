"""The `deploy.<target>` sections of mlci.yml: one pydantic model per serving target.

Every value that ends up in an nginx configuration (addresses, header and cookie names, paths)
is checked here against a strict pattern, so a hostile or mistyped mlci.yml cannot inject
nginx directives. This module imports nothing of `mlci.config.model` at import time (that
module imports this one).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

# host:port (a DNS name or an IPv4 address) or [IPv6]:port; nothing nginx would parse further.
ADDRESS = r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$"
ROUTE_BY = r"^(?:header:[A-Za-z0-9][A-Za-z0-9-]{0,63}|cookie:[A-Za-z0-9_]{1,64})$"
# A path may hold spaces (it is quoted in the config) but no quote, backslash, `$` (nginx
# would expand a variable), braces, `;` or control characters.
_UNSAFE_PATH = re.compile(r"[\"'\\$;{}\x00-\x1f\x7f]")


def _duration(value: object) -> float:
    from mlci.config.model import parse_duration  # lazily: that module imports this one

    return parse_duration(value)


def _safe_path(value: str) -> str:
    if not value or _UNSAFE_PATH.search(value):
        raise ValueError("a path without quotes, backslashes, '$', ';', braces or control "
                         "characters (it is written into the nginx configuration)")
    return value


def _address(value: str) -> str:
    if not re.match(ADDRESS, value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError("expected host:port (a DNS name, an IPv4 address or [IPv6], and a "
                         "port from 1 to 65535), nothing else")
    return value


def _route_by(value: str) -> str:
    if not re.match(ROUTE_BY, value):
        raise ValueError("expected header:NAME (letters, digits, '-') or cookie:NAME "
                         "(letters, digits, '_')")
    return value


Duration = Annotated[float, BeforeValidator(_duration), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0},
              {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"}],
    "description": "a duration: seconds, or a number with ms, s, m, h or d"})]
Address = Annotated[str, AfterValidator(_address), WithJsonSchema(
    {"type": "string", "pattern": ADDRESS, "description": "host:port"})]
SafePath = Annotated[str, AfterValidator(_safe_path)]
RouteBy = Annotated[str, AfterValidator(_route_by), WithJsonSchema(
    {"type": "string", "pattern": ROUTE_BY,
     "description": "sticky assignment: header:NAME or cookie:NAME"})]
Argv = Annotated[list[str], Field(min_length=1, description="a command as an argument list "
                                  "(no shell); placeholders like {weight} are substituted")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NginxTarget(_Section):
    """An nginx that mlci configures: mlci owns one file, included in the `http {}` block."""

    config: SafePath = Field(description="the file mlci writes (upstreams, split, server); "
                             "include it inside http {} of your nginx.conf")
    stable: Address = Field(description="host:port of the stable model server")
    canary: Address = Field(description="host:port of the canary model server")
    listen: Address = Field("127.0.0.1:8080", description="where the router listens")
    access_log: SafePath | None = Field(
        None, description="JSON access log the nginx-log source reads; default: "
        "<config without .conf>.access.log next to the config")
    route_by: RouteBy | None = None
    test: Argv = Field(default_factory=lambda: ["nginx", "-t"],
                       description="validates the whole nginx configuration")
    reload: Argv = Field(default_factory=lambda: ["nginx", "-s", "reload"],
                         description="reloads nginx gracefully")
    reload_timeout: Duration = Field(30.0, description="how long a reload may take to show")


class LocalTarget(_Section):
    """mlci starts MLflow's scoring server for both versions and an nginx in front of them."""

    workdir: SafePath = Field(".mlci/serve", description="servers' logs, pids, nginx prefix")
    listen: Address = Field("127.0.0.1:8080", description="where the router listens")
    route_by: RouteBy | None = None
    nginx: str = Field("nginx", description="the nginx program")
    startup_timeout: Duration = Field(300.0, description="how long a model server may take "
                                      "to answer /ping")
    on_finish: str = Field("keep-serving", pattern=r"^(keep-serving|stop)$",
                           description="keep-serving: the winner keeps serving behind nginx "
                           "(after promotion the candidate's server is the stable one); "
                           "stop: stop every server and nginx")


class CommandTarget(_Section):
    """User commands drive the split (KServe, Istio, Seldon, ...). Placeholders: {weight}
    {stable_weight} {model} {stable_version} {canary_version} {stable_uri} {canary_uri}
    {outcome}."""

    set_weight: Argv = Field(description="sets the canary's share of traffic to {weight}%")
    prepare: Argv | None = Field(None, description="makes both variants reachable")
    health: Argv | None = Field(None, description="exit 0 when both variants are healthy")
    finish: Argv | None = Field(None, description="{outcome} is promoted or rolled-back")
    metrics: Argv | None = Field(None, description="prints the window's metrics as JSON "
                                 "(the default metric source of this target)")
    timeout: Duration = Field(300.0, description="how long one command may run")


class SagemakerTarget(_Section):
    """Production variants of one SageMaker endpoint."""

    endpoint: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    stable_variant: str = Field("stable", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    canary_variant: str = Field("canary", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    canary_model: str | None = Field(
        None, description="SageMaker model of the candidate ({version} substituted); when set, "
        "mlci adds the canary variant (CreateEndpointConfig + UpdateEndpoint) and removes it "
        "on rollback; when unset the endpoint must already carry the canary variant")
    instance_type: str = Field("ml.m5.large")
    instance_count: int = Field(1, ge=1)
    region: str | None = None
    wait_timeout: Duration = Field(1800.0, description="how long an endpoint update may take")


def settings(model: _Section) -> dict[str, Any]:
    """The section as plain data (for messages and saved state)."""
    return model.model_dump()
