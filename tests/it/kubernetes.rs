//! The Kubernetes manifests in deploy/kubernetes: every file parses, and the
//! Deployment, ConfigMap, Secret, PVC, PodDisruptionBudget and Service have the
//! fields operators rely on, and refer to each other by the right names.

use std::collections::BTreeMap;
use std::path::Path;

use campaign_watcher::config::Settings;
use serde::Deserialize as _;
use serde_json::Value;

use crate::helpers::TEST_SECRET;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");

/// Every YAML document of every file, by kind (one of each is expected).
fn manifests() -> BTreeMap<String, Value> {
    let mut by_kind = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .expect("deploy/kubernetes exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let yaml = serde_norway::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
            let json = serde_json::to_value(&yaml).unwrap();
            let kind = json["kind"].as_str().unwrap_or_default().to_string();
            assert!(!kind.is_empty(), "{} has no kind", path.display());
            assert!(json["apiVersion"].is_string(), "{}", path.display());
            if kind != "Kustomization" {
                assert!(
                    json["metadata"]["name"].is_string(),
                    "{} has no name",
                    path.display()
                );
            }
            assert!(
                by_kind.insert(kind.clone(), json).is_none(),
                "one {kind} only"
            );
        }
    }
    by_kind
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
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
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

    // Every file is listed in the kustomization.
    let listed = strings(&all["Kustomization"]["resources"]);
    for entry in std::fs::read_dir(DIR).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                listed.contains(&name.as_str()),
                "{name} not in kustomization"
            );
        }
    }
}

#[test]
fn the_configmap_holds_a_valid_configuration_matching_the_deployment() {
    let all = manifests();
    let toml = all["ConfigMap"]["data"]["campaign-watcher.toml"]
        .as_str()
        .expect("the ConfigMap carries campaign-watcher.toml");
    let secret_keys: Vec<String> = all["Secret"]["stringData"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // The secrets as the pod would see them, under a temporary directory.
    let secrets = tempfile::tempdir().unwrap();
    for key in &secret_keys {
        let value = match key.as_str() {
            "ops_hook_url" => "https://hooks.example.com/campaigns",
            "ops_hook_secret" => TEST_SECRET,
            _ => "test-api-key",
        };
        std::fs::write(secrets.path().join(key), value).unwrap();
    }
    let mount = "/run/secrets/campaign-watcher";
    assert!(toml.contains(mount), "secrets come from the Secret's mount");
    let local = toml.replace(mount, &secrets.path().display().to_string());
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
