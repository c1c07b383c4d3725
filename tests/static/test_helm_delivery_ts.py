"""The chart's `subgraphs.delivery.implementation`: python (the default) or ts, the TypeScript
delivery of subgraphs/delivery-ts, with the same Service, variables, port and probes.

What the TypeScript image needs is read from its own files: the variables its source reads,
the paths its HTTP server answers, its Dockerfile's user, and the image name
docker/compose.delivery-ts.yml builds.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as kubernetes_validate  # type: ignore[import-untyped]

from static.dockerfile_model import parse
from static.helm_support import (
    CHART,
    RELEASE,
    Manifest,
    by_kind,
    env_of,
    load_yaml,
    pod_spec,
    run_helm,
    template,
)
from static.static_support import REPO
from static.test_helm import FULLNAME, KUBERNETES_VERSIONS, PROFILES, profile_flags

DELIVERY_TS = REPO / "subgraphs" / "delivery-ts"
COMPOSE_OVERRIDE = REPO / "docker" / "compose.delivery-ts.yml"


def ts_reads() -> set[str]:
    """Every environment variable delivery-ts's source reads: `env["X"]`, `process.env.X` and
    the parsing helpers' `(env, "X", ...)` of src/config.ts."""
    names: set[str] = set()
    for source in (DELIVERY_TS / "src").glob("*.ts"):
        names |= set(re.findall(r"\benv\[\"([A-Z][A-Z0-9_]*)\"\]", source.read_text()))
        names |= set(re.findall(r"process\.env\.([A-Z][A-Z0-9_]*)\b", source.read_text()))
        names |= set(re.findall(r"\(env, \"([A-Z][A-Z0-9_]*)\"", source.read_text()))
    assert {"PORT", "REDIS_URL"} <= names, "the scan no longer finds delivery-ts's settings"
    return names


def ts_paths() -> set[str]:
    """The paths delivery-ts's HTTP server answers itself (src/http.ts)."""
    return set(re.findall(r"url\.pathname === \"(/[^\"]*)\"", (DELIVERY_TS / "src" / "http.ts").read_text()))


def rendered_for(helm: str, jwt_key: Path, profile: str, implementation: str | None) -> list[Manifest]:
    flags = [] if implementation is None else ["--set", f"subgraphs.delivery.implementation={implementation}"]
    return template(helm, *profile_flags(profile, jwt_key), *flags)


@pytest.fixture(scope="module")
def rendered(helm: str, jwt_key: Path) -> dict[tuple[str, str], list[Manifest]]:
    return {
        (profile, implementation): rendered_for(helm, jwt_key, profile, implementation)
        for profile in PROFILES
        for implementation in ("python", "ts")
    }


def delivery_container(manifests: list[Manifest]) -> dict[str, Any]:
    spec = pod_spec(by_kind(manifests, "Deployment")[f"{FULLNAME}-delivery"])
    assert spec is not None
    container: dict[str, Any]
    [container] = spec["containers"]
    return container


@pytest.mark.parametrize("profile", PROFILES)
def test_python_is_the_default(helm: str, jwt_key: Path, profile: str) -> None:
    default = rendered_for(helm, jwt_key, profile, None)
    assert delivery_container(default)["image"] == "shopgraph-delivery:local"
    assert default == rendered_for(helm, jwt_key, profile, "python")


@pytest.mark.parametrize("profile", PROFILES)
def test_ts_runs_the_image_compose_builds_from_delivery_ts(
    rendered: dict[tuple[str, str], list[Manifest]], profile: str
) -> None:
    override = load_yaml(COMPOSE_OVERRIDE)["services"]["delivery"]
    assert override["build"]["dockerfile"] == "subgraphs/delivery-ts/Dockerfile"
    assert delivery_container(rendered[(profile, "ts")])["image"] == override["image"]


def test_ts_image_follows_the_registry_and_tag(helm: str, jwt_key: Path) -> None:
    manifests = template(
        helm,
        *profile_flags("default", jwt_key),
        "--set",
        "subgraphs.delivery.implementation=ts",
        "--set",
        "image.registry=registry.example.com/shop",
        "--set",
        "image.tag=1.4.2",
    )
    assert delivery_container(manifests)["image"] == "registry.example.com/shop/shopgraph-delivery-ts:1.4.2"


@pytest.mark.parametrize("profile", PROFILES)
def test_only_the_delivery_image_changes(
    rendered: dict[tuple[str, str], list[Manifest]], profile: str
) -> None:
    python, ts = rendered[(profile, "python")], rendered[(profile, "ts")]
    python_delivery, ts_delivery = delivery_container(python), delivery_container(ts)
    # The same variables (stores, events, JWKS, port), probes, ports, limits and security.
    assert {**ts_delivery, "image": None} == {**python_delivery, "image": None}

    def without_delivery_image(manifests: list[Manifest]) -> list[Manifest]:
        return [
            m
            for m in manifests
            if m["metadata"]["name"] != f"{FULLNAME}-delivery" or m["kind"] != "Deployment"
        ]

    # Everything else, the Service and NetworkPolicies the router and peers use included, is untouched.
    assert without_delivery_image(ts) == without_delivery_image(python)


@pytest.mark.parametrize("profile", PROFILES)
def test_ts_gets_only_what_it_reads_and_is_probed_where_it_answers(
    rendered: dict[tuple[str, str], list[Manifest]], profile: str
) -> None:
    container = delivery_container(rendered[(profile, "ts")])
    env = env_of(container)
    unknown = set(env) - ts_reads()
    assert not unknown, f"delivery-ts is given variables its code never reads: {unknown}"
    assert {"HOST", "PORT", "REDIS_URL", "EVENTS_REDIS_URL", "JWKS_URL"} <= set(env)
    served = ts_paths()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] in served, probe


def test_ts_runs_as_the_user_its_image_declares(rendered: dict[tuple[str, str], list[Manifest]]) -> None:
    [user] = parse(DELIVERY_TS / "Dockerfile")[-1].all("USER")
    uid, gid = (int(part) for part in user.args.split(":"))
    security = delivery_container(rendered[("default", "ts")])["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid)
    [port] = parse(DELIVERY_TS / "Dockerfile")[-1].all("EXPOSE")
    assert delivery_container(rendered[("default", "ts")])["ports"][0]["containerPort"] == int(port.args)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("profile", PROFILES)
def test_the_ts_rendering_is_valid_kubernetes(
    rendered: dict[tuple[str, str], list[Manifest]], profile: str, version: str
) -> None:
    for manifest in rendered[(profile, "ts")]:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_an_unknown_implementation_is_refused(helm: str, jwt_key: Path) -> None:
    result = run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        *profile_flags("default", jwt_key),
        "--set",
        "subgraphs.delivery.implementation=go",
    )
    assert result.returncode != 0
    assert 'subgraphs.delivery.implementation must be python or ts, not "go"' in result.stderr
