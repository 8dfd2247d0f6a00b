//! The Kubernetes manifests in deploy/kubernetes: every file parses, and the
//! Deployment, ConfigMap, Secret, PVC, PodDisruptionBudget and Service have the
//! fields operators rely on, and refer to each other by the right names. The
//! PostgreSQL overlay in deploy/kubernetes-postgres is applied to them by hand
//! (no kustomize here) and the result checked the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use campaign_watcher::config::{Settings, ENV_PREFIX};
use campaign_watcher::lead::DEFAULT_LEASE_TTL;
use serde::Deserialize as _;
use serde_json::Value;

use crate::helpers::TEST_SECRET;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");
const OVERLAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes-postgres");

/// The `.yaml` files directly in `dir`, sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every YAML document of one file, each with a kind and an apiVersion.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut all = Vec::new();
    for document in serde_norway::Deserializer::from_str(&text) {
        let yaml = serde_norway::Value::deserialize(document)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        let json = serde_json::to_value(&yaml).unwrap();
        let kind = json["kind"].as_str().unwrap_or_default();
        assert!(!kind.is_empty(), "{} has no kind", path.display());
        assert!(json["apiVersion"].is_string(), "{}", path.display());
        if kind != "Kustomization" {
            assert!(
                json["metadata"]["name"].is_string(),
                "{} has no name",
                path.display()
            );
        }
        all.push(json);
    }
    all
}

/// Every YAML document of every file, by kind (one of each is expected).
fn manifests() -> BTreeMap<String, Value> {
    let mut by_kind = BTreeMap::new();
    let files = yaml_files(DIR);
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        for json in documents(&path) {
            let kind = json["kind"].as_str().unwrap().to_string();
            assert!(
                by_kind.insert(kind.clone(), json).is_none(),
                "one {kind} only"
            );
        }
    }
    by_kind
}

fn volumes_by_name(pod: &Value) -> BTreeMap<&str, &Value> {
    pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_manifest_parses_and_the_deployment_is_hardened_and_probed() {
    let all = manifests();
    for kind in [
        "Deployment",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "Kustomization",
    ] {
        assert!(all.contains_key(kind), "missing {kind}");
    }
    let deployment = &all["Deployment"];
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1, "one replica polls and sends");
    assert_eq!(spec["strategy"]["type"], "Recreate", "never two at once");
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];

    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 9464);
    let port_name = port["name"].as_str().unwrap();
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["port"], port_name, "{probe}");
    }
    assert!(
        container["livenessProbe"]["failureThreshold"].as_u64()
            > container["readinessProbe"]["failureThreshold"].as_u64(),
        "liveness is more patient than readiness"
    );

    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    for section in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                container["resources"][section][resource].is_string(),
                "resources.{section}.{resource}"
            );
        }
    }

    // Volumes refer to the ConfigMap, Secret and PVC by their names.
    let volumes = volumes_by_name(pod);
    let mounts: BTreeMap<&str, &str> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
            )
        })
        .collect();
    let volume_at = |path: &str| {
        let name = mounts
            .get(path)
            .unwrap_or_else(|| panic!("nothing mounted at {path}"));
        volumes[name]
    };
    assert_eq!(
        volume_at("/var/lib/campaign-watcher")["persistentVolumeClaim"]["claimName"],
        all["PersistentVolumeClaim"]["metadata"]["name"]
    );
    assert_eq!(
        volume_at("/etc/campaign-watcher")["configMap"]["name"],
        all["ConfigMap"]["metadata"]["name"]
    );
    assert_eq!(
        volume_at("/run/secrets/campaign-watcher")["secret"]["secretName"],
        all["Secret"]["metadata"]["name"]
    );
    assert!(volume_at("/tmp")["emptyDir"].is_object());
    assert_eq!(
        strings(&all["PersistentVolumeClaim"]["spec"]["accessModes"]),
        ["ReadWriteOnce"]
    );

    // The PDB and the Service select the pods.
    let pdb = &all["PodDisruptionBudget"]["spec"];
    assert_eq!(pdb["selector"]["matchLabels"], *pod_labels);
    assert_eq!(pdb["maxUnavailable"], 1, "drains stay possible");
    let service = &all["Service"]["spec"];
    assert_eq!(service["selector"], *pod_labels);
    assert_eq!(service["ports"][0]["targetPort"], port_name);
    assert_eq!(service["publishNotReadyAddresses"], true);

    // Every file is listed in the kustomization but the example Secret: an
    // apply must never overwrite the Secret the operator made.
    let kustomization = &all["Kustomization"];
    let listed = strings(&kustomization["resources"]);
    for entry in std::fs::read_dir(DIR).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name == "secret.example.yaml" {
            assert!(!listed.contains(&name.as_str()), "{name} is applied by -k");
        } else if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                listed.contains(&name.as_str()),
                "{name} not in kustomization"
            );
        }
    }
    // `kustomize edit set image campaign-watcher=...` has an entry to set.
    let image = container["image"].as_str().unwrap();
    let images = kustomization["images"].as_array().expect("images:");
    assert_eq!(images[0]["name"], image.split(':').next().unwrap());
}

/// The ConfigMap's configuration with its `*_file` paths pointing at the base
/// Secret's keys as the pod would see them, under a temporary directory (kept
/// alive by the returned guard).
fn configmap_config_with_local_secrets(
    configmap: &Value,
    secret: &Value,
) -> (tempfile::TempDir, String) {
    let toml = configmap["data"]["campaign-watcher.toml"]
        .as_str()
        .expect("the ConfigMap carries campaign-watcher.toml");
    let secrets = tempfile::tempdir().unwrap();
    for key in secret["stringData"].as_object().unwrap().keys() {
        let value = match key.as_str() {
            "ops_hook_url" => "https://hooks.example.com/campaigns",
            "ops_hook_secret" => TEST_SECRET,
            "grafana_token" => "test-token-0123456789abcdef",
            _ => "test-api-key",
        };
        std::fs::write(secrets.path().join(key), value).unwrap();
    }
    let mount = "/run/secrets/campaign-watcher";
    assert!(toml.contains(mount), "secrets come from the Secret's mount");
    let local = toml.replace(mount, &secrets.path().display().to_string());
    (secrets, local)
}

#[test]
fn the_configmap_holds_a_valid_configuration_matching_the_deployment() {
    let all = manifests();
    let (_secrets, local) = configmap_config_with_local_secrets(&all["ConfigMap"], &all["Secret"]);
    let settings = Settings::load_from_str(&local, "configmap.yaml")
        .unwrap_or_else(|e| panic!("the ConfigMap's configuration loads: {e}"));
    if let Err(problems) = settings.validate() {
        panic!("the ConfigMap's configuration is valid: {problems:?}");
    }
    assert_eq!(
        settings.http.listen, "0.0.0.0:9464",
        "probes reach the pod IP"
    );
    assert!(
        settings
            .state
            .url
            .starts_with("sqlite:///var/lib/campaign-watcher/"),
        "state on the volume: {}",
        settings.state.url
    );
    assert!(Path::new(DIR).join("secret.example.yaml").exists());
}

/// The ConfigMap's commented `[http]` access example, uncommented (with a real
/// hash for the placeholder), is a valid configuration with users and a token.
#[test]
fn the_configmaps_access_example_configures_users_for_the_exposed_listener() {
    let all = manifests();
    let (_secrets, local) = configmap_config_with_local_secrets(&all["ConfigMap"], &all["Secret"]);
    let hash = bcrypt::hash("an example password", 4).unwrap();
    let uncommented: Vec<String> = local
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let example = [
                "# external_url",
                "# [http.",
                "# password_hash",
                "# role",
                "# token_file",
            ]
            .iter()
            .any(|start| trimmed.starts_with(start));
            let line = if example {
                trimmed.trim_start_matches("# ").to_string()
            } else {
                line.to_string()
            };
            line.replace(
                "$2b$12$REPLACE_WITH_THE_OUTPUT_OF_campaign-watcher_hash-password",
                &hash,
            )
        })
        .collect();
    let settings = Settings::load_from_str(&uncommented.join("\n"), "configmap.yaml")
        .unwrap_or_else(|e| panic!("the access example loads: {e}"));
    if let Err(problems) = settings.validate() {
        panic!("the access example is valid: {problems:?}");
    }
    let http = &settings.http;
    assert_eq!(
        http.external_url.as_deref(),
        Some("https://watcher.example.com")
    );
    assert_eq!(http.users["alice"].role, "admin");
    assert_eq!(http.users["oncall"].role, "read");
    assert_eq!(http.tokens["grafana"].role, "read");
}

/// The list fields the overlay patches, with their merge keys as the Kubernetes
/// API declares them (`patchMergeKey`); strategic merge replaces other lists.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "env" | "volumes" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        _ => None,
    }
}

/// The part of a strategic merge patch the overlay uses: maps merge, `null`
/// removes a key, keyed lists merge by key, and a list item with
/// `$patch: delete` removes the base item with the same key.
fn strategic_merge(base: &mut Value, patch: &Value, field: &str) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if key.starts_with('$') {
                    continue;
                }
                if value.is_null() {
                    base.remove(key);
                } else {
                    strategic_merge(base.entry(key.clone()).or_insert(Value::Null), value, key);
                }
            }
        }
        (Value::Array(items), Value::Array(patch_items)) if merge_key(field).is_some() => {
            let key = merge_key(field).unwrap();
            for patch_item in patch_items {
                let id = &patch_item[key];
                assert!(!id.is_null(), "an item of {field} without its {key}");
                if patch_item["$patch"] == "delete" {
                    let before = items.len();
                    items.retain(|item| item[key] != *id);
                    assert!(items.len() < before, "{field}: nothing to delete at {id}");
                } else if let Some(item) = items.iter_mut().find(|item| item[key] == *id) {
                    strategic_merge(item, patch_item, "");
                } else {
                    let mut item = Value::Object(Default::default());
                    strategic_merge(&mut item, patch_item, "");
                    items.push(item);
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

fn identity(document: &Value) -> (String, String) {
    (
        document["kind"].as_str().unwrap().to_string(),
        document["metadata"]["name"].as_str().unwrap().to_string(),
    )
}

/// The base with the overlay's resources added and its patches applied, by
/// kind and name, as `kubectl apply -k deploy/kubernetes-postgres` would create.
fn overlay_rendered() -> BTreeMap<(String, String), Value> {
    let overlay = Path::new(OVERLAY);
    let kustomization = documents(&overlay.join("kustomization.yaml")).remove(0);
    assert_eq!(kustomization["kind"], "Kustomization");
    let resources = strings(&kustomization["resources"]);
    let patches: Vec<&str> = kustomization["patches"]
        .as_array()
        .expect("the overlay has patches")
        .iter()
        .map(|patch| patch["path"].as_str().expect("patches are files"))
        .collect();

    // The base is listed as a directory, and is deploy/kubernetes itself.
    let bases: Vec<&str> = resources
        .iter()
        .copied()
        .filter(|entry| overlay.join(entry).is_dir())
        .collect();
    assert_eq!(bases.len(), 1, "one base: {resources:?}");
    assert_eq!(
        overlay.join(bases[0]).canonicalize().unwrap(),
        Path::new(DIR).canonicalize().unwrap(),
        "the overlay builds on deploy/kubernetes"
    );
    // Every file in the overlay is used, and every file used is there.
    for path in yaml_files(OVERLAY) {
        let name = path.file_name().unwrap().to_str().unwrap();
        if name.ends_with(".example.yaml") {
            assert!(!resources.contains(&name), "{name} is applied by -k");
            continue;
        }
        assert!(
            name == "kustomization.yaml" || resources.contains(&name) || patches.contains(&name),
            "{name} is neither a resource nor a patch of the overlay"
        );
    }

    // The example Secrets stand for those the operator created beforehand.
    let mut rendered = BTreeMap::new();
    for document in manifests().into_values() {
        if document["kind"] != "Kustomization" {
            rendered.insert(identity(&document), document);
        }
    }
    for path in yaml_files(OVERLAY) {
        if path.to_string_lossy().ends_with(".example.yaml") {
            for document in documents(&path) {
                rendered.insert(identity(&document), document);
            }
        }
    }
    for file in resources.iter().filter(|entry| !bases.contains(entry)) {
        for document in documents(&overlay.join(file)) {
            let id = identity(&document);
            assert!(
                rendered.insert(id.clone(), document).is_none(),
                "{id:?} twice"
            );
        }
    }
    for file in patches {
        for patch in documents(&overlay.join(file)) {
            let id = identity(&patch);
            assert!(rendered.contains_key(&id), "{file} patches nothing: {id:?}");
            if patch["$patch"] == "delete" {
                rendered.remove(&id);
            } else {
                strategic_merge(rendered.get_mut(&id).unwrap(), &patch, "");
            }
        }
    }
    rendered
}

fn only_one<'a>(rendered: &'a BTreeMap<(String, String), Value>, kind: &str) -> &'a Value {
    let found: Vec<&Value> = rendered
        .iter()
        .filter(|((k, _), _)| k == kind)
        .map(|(_, document)| document)
        .collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

#[test]
fn the_postgres_overlay_runs_several_replicas_with_the_url_from_a_secret() {
    let rendered = overlay_rendered();
    let kinds: Vec<&str> = rendered.keys().map(|(kind, _)| kind.as_str()).collect();
    assert!(
        !kinds.contains(&"PersistentVolumeClaim"),
        "no state on disk: {kinds:?}"
    );

    let spec = &only_one(&rendered, "Deployment")["spec"];
    let replicas = spec["replicas"].as_u64().unwrap();
    assert!(replicas >= 2, "a standby next to the leader: {replicas}");
    let strategy = &spec["strategy"];
    assert_eq!(strategy["type"], "RollingUpdate");
    assert_eq!(strategy["rollingUpdate"]["maxSurge"], 1);
    let max_unavailable = strategy["rollingUpdate"]["maxUnavailable"]
        .as_u64()
        .unwrap();
    assert!(
        max_unavailable < replicas,
        "a rolling update keeps a replica up: {max_unavailable} of {replicas}"
    );

    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let terms = pod["affinity"]["podAntiAffinity"]
        ["preferredDuringSchedulingIgnoredDuringExecution"]
        .as_array()
        .expect("preferred pod anti-affinity");
    assert!(
        terms.iter().any(|term| {
            let term = &term["podAffinityTerm"];
            term["topologyKey"] == "kubernetes.io/hostname"
                && term["labelSelector"]["matchLabels"] == *pod_labels
        }),
        "replicas spread over nodes: {terms:?}"
    );

    // Every mount has its volume; none is a claim; the rest of the hardening
    // and /tmp survive the patch.
    let container = &pod["containers"].as_array().unwrap()[0];
    let volumes = volumes_by_name(pod);
    for volume in volumes.values() {
        assert!(volume["persistentVolumeClaim"].is_null(), "{volume}");
    }
    for mount in container["volumeMounts"].as_array().unwrap() {
        let name = mount["name"].as_str().unwrap();
        assert!(volumes.contains_key(name), "{mount} has no volume");
        if mount["mountPath"] == "/tmp" {
            assert!(volumes[name]["emptyDir"].is_object());
        }
    }
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    // The environment the container gets, with secretKeyRef resolved against
    // the overlay's example Secrets; the URL must not come as a plain value.
    let url_var = format!("{ENV_PREFIX}__STATE__URL");
    let mut env = Vec::new();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_string();
        let value = if let Some(value) = var["value"].as_str() {
            assert_ne!(name, url_var, "the database password in the manifest");
            value.to_string()
        } else {
            let reference = &var["valueFrom"]["secretKeyRef"];
            let secret_name = reference["name"].as_str().expect("from a Secret");
            let secret = rendered
                .get(&("Secret".to_string(), secret_name.to_string()))
                .unwrap_or_else(|| panic!("{name} refers to a missing Secret {secret_name}"));
            let key = reference["key"].as_str().unwrap();
            secret["stringData"][key]
                .as_str()
                .unwrap_or_else(|| panic!("{secret_name} has no key {key}"))
                .to_string()
        };
        env.push((name, value));
    }
    let url = env
        .iter()
        .find(|(name, _)| *name == url_var)
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| panic!("{url_var} is set: {env:?}"));
    assert!(url.starts_with("postgres://"), "{url}");

    let configmap = only_one(&rendered, "ConfigMap");
    assert!(
        !configmap.to_string().contains("postgres://"),
        "no database URL (and password) in the ConfigMap"
    );
    let mounted_secret = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| mount["mountPath"] == "/run/secrets/campaign-watcher")
        .map(|mount| &volumes[mount["name"].as_str().unwrap()]["secret"]["secretName"])
        .expect("the base Secret stays mounted");
    let mounted_secret = &rendered[&(
        "Secret".to_string(),
        mounted_secret.as_str().unwrap().to_string(),
    )];

    // The base ConfigMap through the real loader with that environment.
    let (_secrets, local) = configmap_config_with_local_secrets(configmap, mounted_secret);
    let settings = Settings::load_from_str_with_env(&local, "configmap.yaml", env)
        .unwrap_or_else(|e| panic!("the overlay's configuration loads: {e}"));
    if let Err(problems) = settings.validate() {
        panic!("the overlay's configuration is valid: {problems:?}");
    }
    assert_eq!(
        settings.state.url, url,
        "the Secret's URL wins over the file"
    );
    let lease = settings.state.lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
    assert!(lease >= Duration::from_secs(3), "{lease:?}");
    let warnings = settings.warnings();
    assert!(
        !warnings.iter().any(|w| w.starts_with("state.")),
        "{warnings:?}"
    );

    // Voluntary evictions stay possible, one pod at a time, for these pods.
    let pdb = &only_one(&rendered, "PodDisruptionBudget")["spec"];
    assert_eq!(pdb["maxUnavailable"], 1);
    assert_eq!(pdb["selector"]["matchLabels"], *pod_labels);
}

/// The several-accounts overlay: its configuration loads through the real
/// loader with its example Secret's keys, names two accounts with a key file
/// each from the base's Secret mount, and only patches the base's ConfigMap.
#[test]
fn the_accounts_overlay_configures_two_accounts_each_with_its_own_key() {
    let overlay = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes-accounts"
    ));
    let kustomization = documents(&overlay.join("kustomization.yaml")).remove(0);
    assert_eq!(strings(&kustomization["resources"]), ["../kubernetes"]);
    let patch = documents(&overlay.join("configmap-patch.yaml")).remove(0);
    assert_eq!(
        identity(&patch),
        identity(&manifests()["ConfigMap"]),
        "it patches the base's ConfigMap"
    );
    let secret = documents(&overlay.join("secret-accounts.example.yaml")).remove(0);
    assert_eq!(
        identity(&secret),
        identity(&manifests()["Secret"]),
        "the base's Secret, with a key per account"
    );
    let (_secrets, local) = configmap_config_with_local_secrets(&patch, &secret);
    let settings = Settings::load_from_str(&local, "configmap-patch.yaml")
        .unwrap_or_else(|e| panic!("the overlay's configuration loads: {e}"));
    if let Err(problems) = settings.validate() {
        panic!("the overlay's configuration is valid: {problems:?}");
    }
    assert_eq!(settings.account_names(), ["acme", "globex"]);
    for account in settings.accounts() {
        assert!(account.api.api_key.is_some(), "{} has a key", account.name);
        let file = format!("api_key_{}", account.name);
        assert!(
            local.contains(&file),
            "{} reads its own {file}",
            account.name
        );
    }
}
