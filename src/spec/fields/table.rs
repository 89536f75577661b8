//! The JSON field names of troubleshoot v0.133.0's v1beta2 types, one table for every
//! collector, host collector, analyzer, host analyzer and redactor type (read by `fields.rs`).
//!
//! Facts taken from troubleshoot's Go type definitions (field names, nesting, and the order in
//! which its collect/analyze code picks a type from an item with several keys); no code.
//! Each `const` is one Go struct, with embedded structs (`CollectorMeta`, `AnalyzeMeta`)
//! flattened. Fields whose type is a map or lives outside troubleshoot (a `podSpec`, a
//! `sinceTime`) are `Leaf`: what is under them is not checked.

use super::Shape::{Leaf, Struct};
use super::{Field, f};

const CLUSTER_INFO: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const CLUSTER_RESOURCES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("namespaces", Leaf), f("ignoreRBAC", Leaf)];
const METRIC_REQUEST: &[Field] = &[f("namespace", Leaf), f("objectName", Leaf),
    f("resourceMetricName", Leaf)];
const CUSTOM_METRICS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("metricRequests", Struct(METRIC_REQUEST))];
const SECRET: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("selector", Leaf), f("namespace", Leaf), f("key", Leaf), f("includeValue", Leaf),
    f("includeAllData", Leaf)];
const CONFIG_MAP: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("selector", Leaf), f("namespace", Leaf), f("key", Leaf), f("includeValue", Leaf),
    f("includeAllData", Leaf)];
const LOG_LIMITS: &[Field] = &[f("maxAge", Leaf), f("maxLines", Leaf), f("sinceTime", Leaf),
    f("maxBytes", Leaf)];
const LOGS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("selector", Leaf), f("namespace", Leaf), f("containerNames", Leaf),
    f("limits", Struct(LOG_LIMITS)), f("timestamps", Leaf)];
const IMAGE_PULL_SECRETS: &[Field] = &[f("name", Leaf), f("data", Leaf), f("type", Leaf)];
const RUN: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("namespace", Leaf), f("image", Leaf), f("command", Leaf), f("args", Leaf),
    f("timeout", Leaf), f("imagePullPolicy", Leaf),
    f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)), f("serviceAccountName", Leaf)];
const RUN_POD: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("namespace", Leaf), f("timeout", Leaf), f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)),
    f("podSpec", Leaf), f("annotations", Leaf), f("allowImagePullRetries", Leaf)];
const RUN_DAEMON_SET: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("namespace", Leaf), f("timeout", Leaf), f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)),
    f("podSpec", Leaf)];
const EXEC: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("selector", Leaf), f("namespace", Leaf), f("containerName", Leaf), f("command", Leaf),
    f("args", Leaf), f("timeout", Leaf)];
const DATA: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("data", Leaf)];
const COPY: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("selector", Leaf), f("namespace", Leaf), f("containerPath", Leaf), f("containerName", Leaf),
    f("extractArchive", Leaf)];
const COPY_FROM_HOST: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("namespace", Leaf), f("image", Leaf), f("imagePullPolicy", Leaf),
    f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)), f("timeout", Leaf), f("hostPath", Leaf),
    f("extractArchive", Leaf)];
const TLS_SECRET: &[Field] = &[f("name", Leaf), f("namespace", Leaf)];
const TLS_PARAMS: &[Field] = &[f("skipVerify", Leaf), f("secret", Struct(TLS_SECRET)),
    f("cacert", Leaf), f("clientCert", Leaf), f("clientKey", Leaf)];
const GET: &[Field] = &[f("url", Leaf), f("insecureSkipVerify", Leaf), f("headers", Leaf),
    f("timeout", Leaf), f("tls", Struct(TLS_PARAMS)), f("proxy", Leaf)];
const POST: &[Field] = &[f("url", Leaf), f("insecureSkipVerify", Leaf), f("headers", Leaf),
    f("body", Leaf), f("timeout", Leaf), f("tls", Struct(TLS_PARAMS)), f("proxy", Leaf)];
const PUT: &[Field] = &[f("url", Leaf), f("insecureSkipVerify", Leaf), f("headers", Leaf),
    f("body", Leaf), f("timeout", Leaf), f("tls", Struct(TLS_PARAMS)), f("proxy", Leaf)];
const HTTP: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("get", Struct(GET)), f("post", Struct(POST)), f("put", Struct(PUT))];
const DATABASE: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("uri", Leaf),
    f("parameters", Leaf), f("tls", Struct(TLS_PARAMS))];
const COLLECTD: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("namespace", Leaf),
    f("image", Leaf), f("imagePullPolicy", Leaf), f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)),
    f("timeout", Leaf), f("hostPath", Leaf)];
const CEPH: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("namespace", Leaf),
    f("timeout", Leaf)];
const LONGHORN: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("namespace", Leaf),
    f("timeout", Leaf)];
const REGISTRY_IMAGES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("images", Leaf), f("namespace", Leaf), f("imagePullSecret", Struct(IMAGE_PULL_SECRETS))];
const SYSCTL: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("name", Leaf),
    f("namespace", Leaf), f("image", Leaf), f("imagePullPolicy", Leaf),
    f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)), f("timeout", Leaf)];
const CERTIFICATE_SOURCE: &[Field] = &[f("name", Leaf), f("namespaces", Leaf)];
const CERTIFICATES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("secrets", Struct(CERTIFICATE_SOURCE)), f("configMaps", Struct(CERTIFICATE_SOURCE))];
const HELM: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("namespace", Leaf),
    f("releaseName", Leaf), f("collectValues", Leaf)];
const POD_LAUNCH_OPTIONS: &[Field] = &[f("namespace", Leaf), f("image", Leaf),
    f("imagePullSecret", Struct(IMAGE_PULL_SECRETS)), f("serviceAccountName", Leaf)];
const GOLDPINGER: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("namespace", Leaf),
    f("image", Leaf), f("serviceAccountName", Leaf), f("collectDelay", Leaf),
    f("podLaunchOptions", Struct(POD_LAUNCH_OPTIONS))];
const SONOBUOY: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("namespace", Leaf)];
const NODE_METRICS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("nodeNames", Leaf), f("selector", Leaf)];
const DNS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("timeout", Leaf),
    f("image", Leaf), f("nonResolvable", Leaf)];
const ETCD: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("image", Leaf)];
const SUPPORT_BUNDLE_METADATA: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("namespace", Leaf)];
const S3_STATUS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("bucketName", Leaf),
    f("region", Leaf), f("endpoint", Leaf), f("accessKeyID", Leaf), f("secretAccessKey", Leaf),
    f("usePathStyle", Leaf), f("insecure", Leaf)];
const CPU: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const MEMORY: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const TCP_LOAD_BALANCER: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("address", Leaf), f("port", Leaf), f("timeout", Leaf)];
const HTTP_LOAD_BALANCER: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("address", Leaf), f("port", Leaf), f("path", Leaf), f("timeout", Leaf)];
const DISK_USAGE: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("path", Leaf)];
const TCP_PORT_STATUS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("interface", Leaf), f("port", Leaf)];
const UDP_PORT_STATUS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("interface", Leaf), f("port", Leaf)];
const HOST_HTTP: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("get", Struct(GET)),
    f("post", Struct(POST)), f("put", Struct(PUT))];
const HOST_TIME: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const HOST_BLOCK_DEVICES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const HOST_SYSTEM_PACKAGES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("ubuntu", Leaf), f("ubuntu16", Leaf), f("ubuntu18", Leaf), f("ubuntu20", Leaf),
    f("rhel", Leaf), f("rhel7", Leaf), f("rhel8", Leaf), f("rhel9", Leaf), f("rocky", Leaf),
    f("rocky8", Leaf), f("rocky9", Leaf), f("centos", Leaf), f("centos7", Leaf),
    f("centos8", Leaf), f("centos9", Leaf), f("ol", Leaf), f("ol7", Leaf), f("ol8", Leaf),
    f("ol9", Leaf), f("amzn", Leaf), f("amzn2", Leaf)];
const HOST_KERNEL_MODULES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const TCP_CONNECT: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("address", Leaf),
    f("timeout", Leaf)];
const IPV4_INTERFACES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const SUBNET_AVAILABLE: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("CIDRRangeAlloc", Leaf), f("desiredCIDR", Leaf)];
const FILESYSTEM_PERFORMANCE: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("operationSize", Leaf), f("directory", Leaf), f("fileSize", Leaf), f("sync", Leaf),
    f("datasync", Leaf), f("runTime", Leaf), f("timeout", Leaf), f("enableBackgroundIOPS", Leaf),
    f("backgroundIOPSWarmupSeconds", Leaf), f("backgroundWriteIOPS", Leaf),
    f("backgroundReadIOPS", Leaf), f("backgroundWriteIOPSJobs", Leaf),
    f("backgroundReadIOPSJobs", Leaf)];
const CERTIFICATE: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("certificatePath", Leaf), f("keyPath", Leaf)];
const HOST_CERTIFICATES_COLLECTION: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("paths", Leaf)];
const HOST_SERVICES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const HOST_OS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const HOST_RUN: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("command", Leaf),
    f("args", Leaf), f("outputDir", Leaf), f("input", Leaf), f("env", Leaf),
    f("inheritEnvs", Leaf), f("ignoreParentEnvs", Leaf), f("timeout", Leaf)];
const HOST_COPY: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("path", Leaf)];
const HOST_KERNEL_CONFIGS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const HOST_JOURNALD: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("system", Leaf),
    f("dmesg", Leaf), f("units", Leaf), f("since", Leaf), f("until", Leaf), f("output", Leaf),
    f("lines", Leaf), f("reverse", Leaf), f("utc", Leaf), f("timeout", Leaf)];
const HOST_C_GROUPS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("mountPoint", Leaf)];
const HOST_DNS: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf), f("hostnames", Leaf)];
const HOST_NETWORK_NAMESPACE_CONNECTIVITY: &[Field] = &[f("collectorName", Leaf),
    f("exclude", Leaf), f("fromCIDR", Leaf), f("toCIDR", Leaf), f("timeout", Leaf), f("port", Leaf)];
const HOST_SYSCTL: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const HOST_REGISTRY_IMAGES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf),
    f("images", Leaf), f("username", Leaf), f("password", Leaf)];
const KUBERNETES: &[Field] = &[f("collectorName", Leaf), f("exclude", Leaf)];
const SINGLE_OUTCOME: &[Field] = &[f("when", Leaf), f("message", Leaf), f("uri", Leaf)];
const OUTCOME: &[Field] = &[f("fail", Struct(SINGLE_OUTCOME)), f("warn", Struct(SINGLE_OUTCOME)),
    f("pass", Struct(SINGLE_OUTCOME))];
const CLUSTER_VERSION: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME))];
const STORAGE_CLASS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("storageClassName", Leaf)];
const INGRESS_CLASS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("ingressClassName", Leaf)];
const CUSTOM_RESOURCE_DEFINITION: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("outcomes", Struct(OUTCOME)),
    f("customResourceDefinitionName", Leaf)];
const INGRESS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("ingressName", Leaf),
    f("namespace", Leaf)];
const ANALYZE_SECRET: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("secretName", Leaf),
    f("namespace", Leaf), f("key", Leaf)];
const ANALYZE_CONFIG_MAP: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("configMapName", Leaf),
    f("namespace", Leaf), f("key", Leaf)];
const IMAGE_PULL_SECRET: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("registryName", Leaf)];
const DEPLOYMENT_STATUS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("namespace", Leaf),
    f("namespaces", Leaf), f("name", Leaf)];
const STATEFULSET_STATUS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("namespace", Leaf),
    f("namespaces", Leaf), f("name", Leaf)];
const JOB_STATUS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("namespace", Leaf),
    f("namespaces", Leaf), f("name", Leaf)];
const REPLICA_SET_STATUS: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("namespace", Leaf),
    f("namespaces", Leaf), f("name", Leaf), f("selector", Leaf)];
const CLUSTER_POD_STATUSES: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("outcomes", Struct(OUTCOME)),
    f("namespaces", Leaf)];
const CLUSTER_CONTAINER_STATUSES: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("outcomes", Struct(OUTCOME)),
    f("namespaces", Leaf), f("restartCount", Leaf)];
const CONTAINER_RUNTIME: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME))];
const DISTRIBUTION: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME))];
const NODE_RESOURCE_SELECTORS: &[Field] = &[f("matchLabel", Leaf), f("matchExpressions", Leaf)];
const NODE_RESOURCE_FILTERS: &[Field] = &[f("cpuArchitecture", Leaf), f("cpuCapacity", Leaf),
    f("cpuAllocatable", Leaf), f("memoryCapacity", Leaf), f("memoryAllocatable", Leaf),
    f("podCapacity", Leaf), f("podAllocatable", Leaf), f("ephemeralStorageCapacity", Leaf),
    f("ephemeralStorageAllocatable", Leaf), f("selector", Struct(NODE_RESOURCE_SELECTORS)),
    f("resourceName", Leaf), f("resourceAllocatable", Leaf), f("resourceCapacity", Leaf),
    f("taint", Leaf)];
const NODE_RESOURCES: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)),
    f("filters", Struct(NODE_RESOURCE_FILTERS)), f("ignoreIfNoFiles", Leaf)];
const TEXT_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("fileName", Leaf), f("regex", Leaf),
    f("regexGroups", Leaf), f("ignoreIfNoFiles", Leaf), f("outcomes", Struct(OUTCOME)),
    f("excludeFiles", Leaf)];
const YAML_COMPARE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("fileName", Leaf), f("path", Leaf),
    f("value", Leaf), f("outcomes", Struct(OUTCOME))];
const JSON_COMPARE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("fileName", Leaf), f("path", Leaf),
    f("jsonPath", Leaf), f("value", Leaf), f("outcomes", Struct(OUTCOME))];
const DATABASE_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("collectorName", Leaf),
    f("fileName", Leaf)];
const CEPH_STATUS_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("outcomes", Struct(OUTCOME)),
    f("collectorName", Leaf), f("namespace", Leaf)];
const VELERO_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf)];
const LONGHORN_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("collectorName", Leaf),
    f("namespace", Leaf)];
const REGISTRY_IMAGES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("outcomes", Struct(OUTCOME)),
    f("collectorName", Leaf)];
const WEAVE_REPORT_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("reportFileGlob", Leaf)];
const SYSCTL_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME))];
const CLUSTER_RESOURCE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME)),
    f("kind", Leaf), f("clusterScoped", Leaf), f("namespace", Leaf), f("name", Leaf),
    f("yamlPath", Leaf), f("expectedValue", Leaf), f("regex", Leaf), f("regexGroups", Leaf)];
const CERTIFICATES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("outcomes", Struct(OUTCOME))];
const GOLDPINGER_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("outcomes", Struct(OUTCOME)), f("collectorName", Leaf),
    f("filePath", Leaf)];
const EVENT_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("namespace", Leaf), f("kind", Leaf),
    f("reason", Leaf), f("regex", Leaf), f("outcomes", Struct(OUTCOME))];
const PVC_REF: &[Field] = &[f("nameRegex", Leaf), f("namespace", Leaf)];
const NODE_METRICS_ANALYZE_FILTERS: &[Field] = &[f("pvc", Struct(PVC_REF))];
const NODE_METRICS_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("filters", Struct(NODE_METRICS_ANALYZE_FILTERS)), f("outcomes", Struct(OUTCOME))];
const HTTP_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME))];
const CPU_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME))];
const MEMORY_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME))];
const TCP_LOAD_BALANCER_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const HTTP_LOAD_BALANCER_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const DISK_USAGE_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME))];
const TCP_PORT_STATUS_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const UDP_PORT_STATUS_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const TIME_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME))];
const BLOCK_DEVICES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("minimumAcceptableSize", Leaf), f("includeUnmountedPartitions", Leaf),
    f("additionalDeviceTypes", Leaf), f("outcomes", Struct(OUTCOME))];
const SYSTEM_PACKAGES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const KERNEL_MODULES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const TCP_CONNECT_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const IPV4_INTERFACES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const SUBNET_AVAILABLE_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const SUBNET_CONTAINS_IP_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf), f("cidr", Leaf),
    f("ip", Leaf), f("outcomes", Struct(OUTCOME))];
const FILESYSTEM_PERFORMANCE_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const CERTIFICATE_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const HOST_CERTIFICATES_COLLECTION_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const HOST_SERVICES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const HOST_OS_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf), f("strict", Leaf),
    f("annotations", Leaf), f("collectorName", Leaf), f("outcomes", Struct(OUTCOME))];
const KERNEL_CONFIGS_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("selectedConfigs", Leaf), f("outcomes", Struct(OUTCOME))];
const NETWORK_NAMESPACE_CONNECTIVITY_ANALYZE: &[Field] = &[f("checkName", Leaf),
    f("exclude", Leaf), f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const HOST_SYSCTL_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const HOST_REGISTRY_IMAGES_ANALYZE: &[Field] = &[f("checkName", Leaf), f("exclude", Leaf),
    f("strict", Leaf), f("annotations", Leaf), f("collectorName", Leaf),
    f("outcomes", Struct(OUTCOME))];
const FILE_SELECTOR: &[Field] = &[f("file", Leaf), f("files", Leaf)];
const REGEX: &[Field] = &[f("selector", Leaf), f("redactor", Leaf)];
const REMOVALS: &[Field] = &[f("values", Leaf), f("regex", Struct(REGEX)), f("yamlPath", Leaf)];
pub(super) const REDACT: &[Field] = &[f("name", Leaf), f("fileSelector", Struct(FILE_SELECTOR)),
    f("removals", Struct(REMOVALS))];
// Collect: 33 types, in the order troubleshoot checks them
pub(super) const COLLECT_TYPES: &[(&str, &[Field])] = &[("clusterInfo", CLUSTER_INFO),
    ("clusterResources", CLUSTER_RESOURCES), ("customMetrics", CUSTOM_METRICS), ("secret", SECRET),
    ("configMap", CONFIG_MAP), ("logs", LOGS), ("run", RUN), ("runPod", RUN_POD),
    ("runDaemonSet", RUN_DAEMON_SET), ("exec", EXEC), ("data", DATA), ("copy", COPY),
    ("copyFromHost", COPY_FROM_HOST), ("http", HTTP), ("postgres", DATABASE), ("mssql", DATABASE),
    ("mysql", DATABASE), ("redis", DATABASE), ("clickhouse", DATABASE), ("collectd", COLLECTD),
    ("ceph", CEPH), ("longhorn", LONGHORN), ("registryImages", REGISTRY_IMAGES),
    ("sysctl", SYSCTL), ("certificates", CERTIFICATES), ("helm", HELM), ("goldpinger", GOLDPINGER),
    ("sonobuoy", SONOBUOY), ("nodeMetrics", NODE_METRICS), ("dns", DNS), ("etcd", ETCD),
    ("supportBundleMetadata", SUPPORT_BUNDLE_METADATA), ("s3Status", S3_STATUS)];
// HostCollect: 29 types in the order troubleshoot checks them, then `kubernetes` (never dispatched)
pub(super) const HOST_COLLECT_TYPES: &[(&str, &[Field])] = &[("cpu", CPU), ("memory", MEMORY),
    ("tcpLoadBalancer", TCP_LOAD_BALANCER), ("httpLoadBalancer", HTTP_LOAD_BALANCER),
    ("diskUsage", DISK_USAGE), ("tcpPortStatus", TCP_PORT_STATUS),
    ("udpPortStatus", UDP_PORT_STATUS), ("http", HOST_HTTP), ("time", HOST_TIME),
    ("blockDevices", HOST_BLOCK_DEVICES), ("systemPackages", HOST_SYSTEM_PACKAGES),
    ("kernelModules", HOST_KERNEL_MODULES), ("tcpConnect", TCP_CONNECT),
    ("ipv4Interfaces", IPV4_INTERFACES), ("subnetAvailable", SUBNET_AVAILABLE),
    ("filesystemPerformance", FILESYSTEM_PERFORMANCE), ("certificate", CERTIFICATE),
    ("certificatesCollection", HOST_CERTIFICATES_COLLECTION), ("hostServices", HOST_SERVICES),
    ("hostOS", HOST_OS), ("run", HOST_RUN), ("copy", HOST_COPY),
    ("kernelConfigs", HOST_KERNEL_CONFIGS), ("journald", HOST_JOURNALD),
    ("cgroups", HOST_C_GROUPS), ("dns", HOST_DNS),
    ("networkNamespaceConnectivity", HOST_NETWORK_NAMESPACE_CONNECTIVITY), ("sysctl", HOST_SYSCTL),
    ("registryImages", HOST_REGISTRY_IMAGES), ("kubernetes", KUBERNETES)];
// Analyze: 38 types, in the order troubleshoot checks them
pub(super) const ANALYZE_TYPES: &[(&str, &[Field])] = &[("clusterVersion", CLUSTER_VERSION),
    ("storageClass", STORAGE_CLASS), ("ingressClass", INGRESS_CLASS),
    ("customResourceDefinition", CUSTOM_RESOURCE_DEFINITION), ("ingress", INGRESS),
    ("secret", ANALYZE_SECRET), ("configMap", ANALYZE_CONFIG_MAP),
    ("imagePullSecret", IMAGE_PULL_SECRET), ("deploymentStatus", DEPLOYMENT_STATUS),
    ("statefulsetStatus", STATEFULSET_STATUS), ("jobStatus", JOB_STATUS),
    ("replicasetStatus", REPLICA_SET_STATUS), ("clusterPodStatuses", CLUSTER_POD_STATUSES),
    ("clusterContainerStatuses", CLUSTER_CONTAINER_STATUSES),
    ("containerRuntime", CONTAINER_RUNTIME), ("distribution", DISTRIBUTION),
    ("nodeResources", NODE_RESOURCES), ("textAnalyze", TEXT_ANALYZE),
    ("yamlCompare", YAML_COMPARE), ("jsonCompare", JSON_COMPARE), ("postgres", DATABASE_ANALYZE),
    ("mysql", DATABASE_ANALYZE), ("mssql", DATABASE_ANALYZE), ("redis", DATABASE_ANALYZE),
    ("clickhouse", DATABASE_ANALYZE), ("cephStatus", CEPH_STATUS_ANALYZE),
    ("velero", VELERO_ANALYZE), ("longhorn", LONGHORN_ANALYZE),
    ("registryImages", REGISTRY_IMAGES_ANALYZE), ("weaveReport", WEAVE_REPORT_ANALYZE),
    ("sysctl", SYSCTL_ANALYZE), ("clusterResource", CLUSTER_RESOURCE),
    ("certificates", CERTIFICATES_ANALYZE), ("goldpinger", GOLDPINGER_ANALYZE),
    ("event", EVENT_ANALYZE), ("nodeMetrics", NODE_METRICS_ANALYZE), ("http", HTTP_ANALYZE),
    ("s3Status", DATABASE_ANALYZE)];
// HostAnalyze: 27 types, in the order troubleshoot checks them
pub(super) const HOST_ANALYZE_TYPES: &[(&str, &[Field])] = &[("cpu", CPU_ANALYZE),
    ("memory", MEMORY_ANALYZE), ("tcpLoadBalancer", TCP_LOAD_BALANCER_ANALYZE),
    ("httpLoadBalancer", HTTP_LOAD_BALANCER_ANALYZE), ("diskUsage", DISK_USAGE_ANALYZE),
    ("tcpPortStatus", TCP_PORT_STATUS_ANALYZE), ("udpPortStatus", UDP_PORT_STATUS_ANALYZE),
    ("http", HTTP_ANALYZE), ("time", TIME_ANALYZE), ("blockDevices", BLOCK_DEVICES_ANALYZE),
    ("systemPackages", SYSTEM_PACKAGES_ANALYZE), ("kernelModules", KERNEL_MODULES_ANALYZE),
    ("tcpConnect", TCP_CONNECT_ANALYZE), ("ipv4Interfaces", IPV4_INTERFACES_ANALYZE),
    ("subnetAvailable", SUBNET_AVAILABLE_ANALYZE),
    ("subnetContainsIP", SUBNET_CONTAINS_IP_ANALYZE),
    ("filesystemPerformance", FILESYSTEM_PERFORMANCE_ANALYZE),
    ("certificate", CERTIFICATE_ANALYZE),
    ("certificatesCollection", HOST_CERTIFICATES_COLLECTION_ANALYZE),
    ("hostServices", HOST_SERVICES_ANALYZE), ("hostOS", HOST_OS_ANALYZE),
    ("textAnalyze", TEXT_ANALYZE), ("kernelConfigs", KERNEL_CONFIGS_ANALYZE),
    ("jsonCompare", JSON_COMPARE),
    ("networkNamespaceConnectivity", NETWORK_NAMESPACE_CONNECTIVITY_ANALYZE),
    ("sysctl", HOST_SYSCTL_ANALYZE), ("registryImages", HOST_REGISTRY_IMAGES_ANALYZE)];
