"""deploy/helm/shopgraph: helm lint, helm template, the Kubernetes schemas, and our policies.

Everything runs offline: helm renders the chart (no cluster), every object is
validated against the JSON schemas that kubernetes-validate bundles for the
pinned Kubernetes versions, and the rules the chart promises (probes, limits,
pinned images, non-root, secrets never defaulted, who may talk to whom) are
checked on what helm rendered. CI's `kubernetes` job installs it on kind.
"""

import base64
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as kubernetes_validate  # type: ignore[import-untyped]

from static.helm_support import (
    CHART,
    CLUSTER_DNS,
    DEV_VALUES,
    OUTSIDE_CLIENT,
    RELEASE,
    Manifest,
    allowed,
    by_kind,
    component,
    containers,
    env_of,
    load_yaml,
    pod_spec,
    release_pod,
    run_helm,
    secret_flags,
    store_flags,
    template,
)
from static.static_support import COMPOSE_FILE, REPO, read_versions, settings_variables

# The chart's kubeVersion floor, and the Kubernetes of kind v0.31's default node (CI's cluster).
KUBERNETES_VERSIONS = ["1.29.0", "1.35.0"]
SUBGRAPHS = ["users", "orders", "payments", "delivery"]
COMPONENTS = [*SUBGRAPHS, "router"]
FULLNAME = f"{RELEASE}-shopgraph"
PROFILES = ["default", "dev"]


def profile_flags(profile: str, jwt_key: Path) -> list[str]:
    """default: values.yaml with the secrets and store URIs given; dev: values-dev.yaml and the secrets."""
    if profile == "dev":
        return ["-f", str(DEV_VALUES), *secret_flags(jwt_key)]
    return [*secret_flags(jwt_key), *store_flags()]


@pytest.fixture(scope="module")
def rendered(helm: str, jwt_key: Path) -> dict[str, list[Manifest]]:
    return {profile: template(helm, *profile_flags(profile, jwt_key)) for profile in PROFILES}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return loaded


def compose_image(compose: dict[str, Any], service: str) -> str:
    image: str = compose["services"][service]["image"]
    return image


# ---- helm lint and the files the chart reads -------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_lint_passes(helm: str, jwt_key: Path, profile: str) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART), *profile_flags(profile, jwt_key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_router_files_are_symlinks_to_the_committed_files() -> None:
    for name in ["router.yaml", "router.dev.yaml", "supergraph.graphql"]:
        link = CHART / "files" / name
        assert link.is_symlink(), f"{link} must be a symlink (no copy of router/{name})"
        assert link.resolve() == (REPO / "router" / name).resolve()


@pytest.mark.parametrize("profile", PROFILES)
def test_configmaps_hold_the_committed_files_byte_for_byte(
    rendered: dict[str, list[Manifest]], profile: str
) -> None:
    config_maps = by_kind(rendered[profile], "ConfigMap")
    config = config_maps[f"{FULLNAME}-router-config"]["data"]
    supergraph = config_maps[f"{FULLNAME}-supergraph"]["data"]
    expected = {
        "router.yaml": config,
        "router.dev.yaml": config,
        "supergraph.graphql": supergraph,
    }
    for name, data in expected.items():
        assert data[name].encode() == (REPO / "router" / name).read_bytes(), (
            f"{name} differs from router/{name}"
        )


def test_router_mounts_the_profile_the_values_choose(rendered: dict[str, list[Manifest]]) -> None:
    for profile, config_file in [("default", "router.yaml"), ("dev", "router.dev.yaml")]:
        router = by_kind(rendered[profile], "Deployment")[f"{FULLNAME}-router"]
        spec = pod_spec(router)
        assert spec is not None
        [container] = spec["containers"]
        assert container["args"] == [
            "--config",
            f"/dist/config/{config_file}",
            "--supergraph",
            "/dist/schema/supergraph.graphql",
        ]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes[mounts["/dist/config"]]["configMap"]["name"] == f"{FULLNAME}-router-config"
        assert volumes[mounts["/dist/schema"]]["configMap"]["name"] == f"{FULLNAME}-supergraph"


# ---- the Kubernetes schemas --------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_manifest_is_valid_kubernetes(
    rendered: dict[str, list[Manifest]], profile: str, version: str
) -> None:
    errors = []
    for manifest in rendered[profile]:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        try:
            # strict: unknown fields (a typo, a misplaced key) fail too.
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: {manifest['apiVersion']} is not served by Kubernetes {version}")
    assert not errors, "\n".join(errors)


def test_the_validator_catches_a_broken_manifest(rendered: dict[str, list[Manifest]]) -> None:
    [deployment, *_] = by_kind(rendered["default"], "Deployment").values()
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two", "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


# ---- the objects the chart must make -------------------------------------------------


def test_each_component_has_a_deployment_service_pdb_and_hpa(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["default"]
    deployments = by_kind(manifests, "Deployment")
    services = by_kind(manifests, "Service")
    budgets = by_kind(manifests, "PodDisruptionBudget")
    autoscalers = by_kind(manifests, "HorizontalPodAutoscaler")
    for name in COMPONENTS:
        full = f"{FULLNAME}-{name}"
        for objects in (deployments, services, budgets):
            assert full in objects, name
        assert budgets[full]["apiVersion"] == "policy/v1"
        assert (
            budgets[full]["spec"]["selector"]["matchLabels"]
            == deployments[full]["spec"]["selector"]["matchLabels"]
        )
        hpa = autoscalers[full]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": full}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # The HPA owns the replica count: a Deployment that set it would fight it on every upgrade.
        assert "replicas" not in deployments[full]["spec"]


def test_one_service_scales_on_its_own(helm: str, jwt_key: Path) -> None:
    manifests = template(
        helm,
        *secret_flags(jwt_key),
        *store_flags(),
        "--set",
        "subgraphs.orders.autoscaling.enabled=false",
        "--set",
        "subgraphs.orders.replicas=3",
        "--set",
        "subgraphs.payments.autoscaling.maxReplicas=9",
    )
    deployments = by_kind(manifests, "Deployment")
    autoscalers = by_kind(manifests, "HorizontalPodAutoscaler")
    assert deployments[f"{FULLNAME}-orders"]["spec"]["replicas"] == 3
    assert f"{FULLNAME}-orders" not in autoscalers
    assert autoscalers[f"{FULLNAME}-payments"]["spec"]["maxReplicas"] == 9
    assert autoscalers[f"{FULLNAME}-users"]["spec"]["maxReplicas"] == 4


def test_services_route_to_the_ports_the_subgraphs_listen_on(rendered: dict[str, list[Manifest]]) -> None:
    ports = {"users": 4001, "orders": 4002, "payments": 4003, "delivery": 4004}
    for profile in PROFILES:
        deployments = by_kind(rendered[profile], "Deployment")
        services = by_kind(rendered[profile], "Service")
        router_spec = pod_spec(deployments[f"{FULLNAME}-router"])
        assert router_spec is not None
        router_env = env_of(router_spec["containers"][0])
        for name, port in ports.items():
            spec = pod_spec(deployments[f"{FULLNAME}-{name}"])
            assert spec is not None
            [container] = spec["containers"]
            assert env_of(container)["PORT"] == str(port)
            assert env_of(container)["HOST"] == "0.0.0.0"
            assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
            assert services[f"{FULLNAME}-{name}"]["spec"]["ports"][0]["port"] == port
            assert router_env[f"{name.upper()}_URL"] == f"http://{FULLNAME}-{name}:{port}/graphql"
            if name != "users":
                assert env_of(container)["JWKS_URL"] == f"http://{FULLNAME}-users:4001/.well-known/jwks.json"


def service_reads(name: str) -> set[str]:
    """The environment variables a service reads: its Settings' fields (shopkit.settings)."""
    return settings_variables(name)


SECRET_ENV = {
    "users": {"ADMIN_PASSWORD": "admin-password", "DEMO_CUSTOMER_PASSWORD": "demo-customer-password"},
    "payments": {"CARD_FINGERPRINT_KEY": "card-fingerprint-key"},
}
STORE_ENV = {
    "users": {"MONGODB_URI": "users-mongodb-uri"},
    "orders": {"MONGODB_URI": "orders-mongodb-uri", "EVENTS_REDIS_URL": "events-redis-url"},
    "payments": {"MONGODB_URI": "payments-mongodb-uri", "EVENTS_REDIS_URL": "events-redis-url"},
    "delivery": {"REDIS_URL": "delivery-redis-url", "EVENTS_REDIS_URL": "events-redis-url"},
}


@pytest.mark.parametrize("profile", PROFILES)
def test_each_service_gets_what_its_config_reads_and_secrets_from_secrets(
    rendered: dict[str, list[Manifest]], profile: str
) -> None:
    deployments = by_kind(rendered[profile], "Deployment")
    secrets = by_kind(rendered[profile], "Secret")
    for name in SUBGRAPHS:
        spec = pod_spec(deployments[f"{FULLNAME}-{name}"])
        assert spec is not None
        env = env_of(spec["containers"][0])
        unknown = set(env) - service_reads(name)
        assert not unknown, f"{name} is given variables its code never reads: {unknown}"
        wanted = {**SECRET_ENV.get(name, {}), **STORE_ENV[name]}
        for variable, key in wanted.items():
            reference = env[variable]["secretKeyRef"]
            assert reference["key"] == key
            assert key in secrets[reference["name"]]["data"], f"{reference['name']} lacks {key}"
        if name in {"users", "orders", "payments"}:
            assert env["MONGODB_DATABASE"] == name
    users = pod_spec(deployments[f"{FULLNAME}-users"])
    assert users is not None
    key_file = env_of(users["containers"][0])["JWT_PRIVATE_KEY_FILE"]
    [mount] = [m for m in users["containers"][0]["volumeMounts"] if key_file.startswith(m["mountPath"] + "/")]
    [volume] = [v for v in users["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == f"{FULLNAME}-users"
    assert volume["secret"]["items"] == [{"key": "jwt-private-key.pem", "path": Path(key_file).name}]


# ---- secrets are never defaulted -------------------------------------------------------

REQUIRED_SECRETS = [
    "secrets.users.jwtPrivateKey",
    "secrets.users.adminPassword",
    "secrets.users.demoCustomerPassword",
    "secrets.payments.cardFingerprintKey",
]


@pytest.mark.parametrize("missing", REQUIRED_SECRETS)
@pytest.mark.parametrize("profile", PROFILES)
def test_rendering_without_a_secret_fails_naming_it(
    helm: str, jwt_key: Path, missing: str, profile: str
) -> None:
    flags = secret_flags(jwt_key, omit=missing) + (
        ["-f", str(DEV_VALUES)] if profile == "dev" else store_flags()
    )
    result = run_helm(helm, "template", RELEASE, str(CHART), *flags)
    assert result.returncode != 0
    assert f"{missing} is required" in result.stderr


@pytest.mark.parametrize(
    "missing", ["stores.users.mongodbUri", "stores.events.redisUrl", "stores.delivery.redisUrl"]
)
def test_rendering_without_a_store_uri_fails_naming_it(helm: str, jwt_key: Path, missing: str) -> None:
    result = run_helm(
        helm, "template", RELEASE, str(CHART), *secret_flags(jwt_key), *store_flags(omit=missing)
    )
    assert result.returncode != 0
    assert f"{missing} is required" in result.stderr


def test_a_too_short_password_is_refused(helm: str, jwt_key: Path) -> None:
    result = run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        *secret_flags(jwt_key),
        *store_flags(),
        "--set",
        "secrets.users.adminPassword=short",
    )
    assert result.returncode != 0
    assert "secrets.users.adminPassword must be 8 to 128 characters" in result.stderr


def test_existing_secrets_replace_the_values(helm: str) -> None:
    manifests = template(
        helm,
        "--set",
        "secrets.users.existingSecret=my-users",
        "--set",
        "secrets.payments.existingSecret=my-payments",
        "--set",
        "stores.existingSecret=my-stores",
    )
    assert by_kind(manifests, "Secret") == {}
    deployments = by_kind(manifests, "Deployment")
    referenced = set()
    for name in SUBGRAPHS:
        spec = pod_spec(deployments[f"{FULLNAME}-{name}"])
        assert spec is not None
        for value in env_of(spec["containers"][0]).values():
            if isinstance(value, dict) and "secretKeyRef" in value:
                referenced.add(value["secretKeyRef"]["name"])
        referenced |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    assert referenced == {"my-users", "my-payments", "my-stores"}


# ---- the policy every container follows --------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_every_container_is_probed_limited_pinned_and_unprivileged(
    rendered: dict[str, list[Manifest]], profile: str
) -> None:
    problems = []
    for workload, container in containers(rendered[profile]):
        where = f"{workload['kind']}/{workload['metadata']['name']} container {container['name']}"
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                problems.append(f"{where}: no {probe}")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(kind, {})):
                problems.append(f"{where}: no cpu and memory {kind}")
        image = container["image"]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest" or "@" in image:
            problems.append(f"{where}: image {image} is not pinned to a tag")
        security = container.get("securityContext", {})
        expected = {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        }
        for key, value in expected.items():
            if security.get(key) != value:
                problems.append(f"{where}: securityContext.{key} is not {value}")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: capabilities are not all dropped")
        if not isinstance(security.get("runAsUser"), int) or security["runAsUser"] == 0:
            problems.append(f"{where}: no numeric non-root runAsUser")
        spec = pod_spec(workload)
        assert spec is not None
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        if len(tmp) != 1 or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.append(f"{where}: /tmp is not an emptyDir")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: the pod mounts a service account token it does not need")
    assert not problems, "\n".join(problems)


def test_subgraphs_are_probed_on_their_health_endpoints(rendered: dict[str, list[Manifest]]) -> None:
    deployments = by_kind(rendered["default"], "Deployment")
    for name in SUBGRAPHS:
        spec = pod_spec(deployments[f"{FULLNAME}-{name}"])
        assert spec is not None
        container = spec["containers"][0]
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    router_spec = pod_spec(deployments[f"{FULLNAME}-router"])
    assert router_spec is not None
    router = router_spec["containers"][0]
    # router.yaml's health_check: the port the chart points ROUTER_HEALTH_LISTEN at, path /health.
    config = load_yaml(REPO / "router" / "router.yaml")
    assert config["health_check"]["path"] == "/health"
    assert env_of(router)["ROUTER_HEALTH_LISTEN"] == "0.0.0.0:8088"
    health_port = {p["name"]: p["containerPort"] for p in router["ports"]}["health"]
    assert health_port == 8088
    assert router["readinessProbe"]["httpGet"] == {"path": "/health?ready", "port": "health"}
    assert router["livenessProbe"]["httpGet"] == {"path": "/health?live", "port": "health"}


# ---- images: the tags docker-compose.yml and scripts/versions.sh pin ----------------------------


def images(manifests: list[Manifest]) -> dict[str, str]:
    return {component(workload): container["image"] for workload, container in containers(manifests)}


def test_images_are_those_of_docker_compose_and_versions_sh(
    rendered: dict[str, list[Manifest]], compose: dict[str, Any]
) -> None:
    router_version = read_versions()["ROUTER_VERSION"]
    default = images(rendered["default"])
    assert default["router"] == f"ghcr.io/apollographql/router:v{router_version}"
    assert default["router"] == compose_image(compose, "router")
    for name in SUBGRAPHS:
        assert default[name] == compose_image(compose, name)
    dev = images(rendered["dev"])
    for store in ("users-mongodb", "orders-mongodb", "payments-mongodb"):
        assert dev[store] == compose_image(compose, "mongo")
    for store in ("delivery-redis", "events-redis"):
        assert dev[store] == compose_image(compose, "redis")
    assert not {"users-mongodb", "events-redis"} & set(default), "the stores are external by default"


def test_subgraph_registry_and_tag_come_from_values(helm: str, jwt_key: Path) -> None:
    manifests = template(
        helm,
        *secret_flags(jwt_key),
        *store_flags(),
        "--set",
        "image.registry=registry.example.com/shop",
        "--set",
        "image.tag=1.4.2",
    )
    found = images(manifests)
    for name in SUBGRAPHS:
        assert found[name] == f"registry.example.com/shop/shopgraph-{name}:1.4.2"


@pytest.mark.parametrize("flag", ["image.tag=latest", "router.image.tag=latest", "image.tag="])
def test_an_unpinned_image_is_refused(helm: str, jwt_key: Path, flag: str) -> None:
    result = run_helm(
        helm, "template", RELEASE, str(CHART), *secret_flags(jwt_key), *store_flags(), "--set", flag
    )
    assert result.returncode != 0
    assert "must name a pinned tag" in result.stderr


# ---- the development stores -----------------------------------------------------------------


def test_dev_stores_are_statefulsets_on_persistent_volumes(rendered: dict[str, list[Manifest]]) -> None:
    assert by_kind(rendered["default"], "StatefulSet") == {}
    sets = by_kind(rendered["dev"], "StatefulSet")
    assert {component(s) for s in sets.values()} == {
        "users-mongodb",
        "orders-mongodb",
        "payments-mongodb",
        "delivery-redis",
        "events-redis",
    }
    for statefulset in sets.values():
        [claim] = statefulset["spec"]["volumeClaimTemplates"]
        spec = pod_spec(statefulset)
        assert spec is not None
        [container] = spec["containers"]
        assert claim["metadata"]["name"] in {m["name"] for m in container["volumeMounts"]}
    secrets = by_kind(rendered["dev"], "Secret")
    stores = {
        key: base64.b64decode(value).decode() for key, value in secrets[f"{FULLNAME}-stores"]["data"].items()
    }
    assert stores["users-mongodb-uri"] == f"mongodb://{FULLNAME}-users-mongodb:27017/"
    assert stores["events-redis-url"] == f"redis://{FULLNAME}-events-redis:6379/0"
    assert stores["delivery-redis-url"] == f"redis://{FULLNAME}-delivery-redis:6379/0"


# ---- network policies --------------------------------------------------------------------------


def subgraph_port(name: str) -> int:
    return {"users": 4001, "orders": 4002, "payments": 4003, "delivery": 4004}[name]


@pytest.mark.parametrize("profile", PROFILES)
def test_only_the_router_reaches_the_subgraphs(rendered: dict[str, list[Manifest]], profile: str) -> None:
    manifests = rendered[profile]
    policies = list(by_kind(manifests, "NetworkPolicy").values())
    router = release_pod(manifests, "router")
    assert allowed(policies, OUTSIDE_CLIENT, router, 4000)
    assert not allowed(policies, OUTSIDE_CLIENT, router, 9080)
    for name in SUBGRAPHS:
        pod = release_pod(manifests, name)
        port = subgraph_port(name)
        assert allowed(policies, router, pod, port), f"router -> {name}"
        assert not allowed(policies, OUTSIDE_CLIENT, pod, port), f"outside -> {name}"
        for other in SUBGRAPHS:
            if other != name:
                expected = name == "users"  # the JWKS: orders, payments and delivery fetch it from users
                assert allowed(policies, release_pod(manifests, other), pod, port) == expected, (
                    f"{other} -> {name}"
                )


def test_only_the_owner_reaches_its_store(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["dev"]
    policies = list(by_kind(manifests, "NetworkPolicy").values())
    clients = {
        "users-mongodb": ({"users"}, 27017),
        "orders-mongodb": ({"orders"}, 27017),
        "payments-mongodb": ({"payments"}, 27017),
        "delivery-redis": ({"delivery"}, 6379),
        "events-redis": ({"orders", "payments", "delivery"}, 6379),
    }
    for store, (owners, port) in clients.items():
        pod = release_pod(manifests, store)
        for name in COMPONENTS:
            assert allowed(policies, release_pod(manifests, name), pod, port) == (name in owners), (
                f"{name} -> {store}"
            )
        assert not allowed(policies, OUTSIDE_CLIENT, pod, port)


def test_egress_policies_allow_dns_and_nothing_unexpected(rendered: dict[str, list[Manifest]]) -> None:
    manifests = rendered["dev"]
    policies = list(by_kind(manifests, "NetworkPolicy").values())
    for name in COMPONENTS:
        pod = release_pod(manifests, name)
        assert allowed(policies, pod, CLUSTER_DNS, 53), f"{name} cannot resolve names"
        assert not allowed(policies, pod, OUTSIDE_CLIENT, 443), f"{name} may reach anywhere"
    assert not allowed(policies, release_pod(manifests, "users-mongodb"), CLUSTER_DNS, 53)


# ---- documentation -----------------------------------------------------------------------------


def test_readme_tells_how_to_run_on_kubernetes() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Run on Kubernetes" in readme
    assert "deploy/helm/shopgraph/README.md" in readme
    assert (CHART / "README.md").is_file()


def test_ci_installs_the_chart_on_kind_and_queries_the_router() -> None:
    workflow = load_yaml(REPO / ".github" / "workflows" / "ci.yml")
    job = workflow["jobs"]["kubernetes"]
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(action.startswith("helm/kind-action@") for action in uses)
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert "scripts/install-helm.sh" in commands
    assert "install shopgraph deploy/helm/shopgraph" in commands
    assert "-f deploy/helm/shopgraph/values-dev.yaml" in commands
    for secret in REQUIRED_SECRETS:
        assert secret in commands
    assert "{ products { sku } }" in commands
    # The images docker-compose.yml builds, which values-dev.yaml leaves as they are.
    assert 'kind load docker-image "shopgraph-$service:local"' in commands
