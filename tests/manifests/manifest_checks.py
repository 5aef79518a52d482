"""Checks of the Kubernetes manifests against the binaries and the sources. Pure functions over
parsed objects and texts: each returns a list of problems (empty = fine), so a test can run it
on the real manifests and on a deliberately broken copy. Needs python3-yaml (/usr/bin/python3).
"""

import glob
import os
import re
import subprocess

import yaml

# The API calls the code makes, as (apiGroup, resource, verb). The RBAC must be exactly this;
# derive_api_calls() re-derives it from the sources so that a new call fails the test.
AGENT_API_CALLS = {
    # node-agent/sys/api_metadata_source.cpp: cluster-wide Informer<Namespace|Pod|Service|
    # EndpointSlice>; common/k8s/watcher.cpp lists, then watches from the list's version.
    ("", "namespaces", "list"), ("", "namespaces", "watch"),
    ("", "pods", "list"), ("", "pods", "watch"),
    ("", "services", "list"), ("", "services", "watch"),
    ("discovery.k8s.io", "endpointslices", "list"), ("discovery.k8s.io", "endpointslices", "watch"),
    # node-agent/sys/api_pod_annotator.cpp: GET the pod, then merge-PATCH its annotation.
    ("", "pods", "get"), ("", "pods", "patch"),
    # node-agent/sys/policy_watch.cpp: Informer<AuthorizationPolicy|PeerAuthentication> once a
    # probe (a GET of the collection with limit=1, itself a list) finds the CRD served.
    ("security.istio.io", "authorizationpolicies", "list"),
    ("security.istio.io", "authorizationpolicies", "watch"),
    ("security.istio.io", "peerauthentications", "list"),
    ("security.istio.io", "peerauthentications", "watch"),
}
PLUGIN_API_CALLS = {
    # cni-plugin/sys/api_object_fetch.cpp: GET /api/v1/namespaces/NS, .../pods/NAME.
    ("", "namespaces", "get"), ("", "pods", "get"),
}
ROLE_OF = {"ambient-agent": AGENT_API_CALLS, "ambient-cni": PLUGIN_API_CALLS}

# Environment variables each program reads itself (node-agent/main.cpp passes NODE_NAME and
# KUBERNETES_SERVICE_HOST to parseAgentFlags; ztunnel and the installer read none; the
# kubeconfig script reads the two the kubelet sets in every pod).
ENV_READ = {
    "ambient-agent": {"NODE_NAME", "KUBERNETES_SERVICE_HOST"},
    "ambient-cni-install": set(),
    "ztunnel": set(),
    "ambient-cni-kubeconfig": {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"},
    "sleep": set(),
}

# Host paths a program uses without naming them in a flag or its help: the runtime's pinned
# pod network namespaces, whose paths reach the agent in CNI_NETNS (containerd >= 1.4, CRI-O).
IMPLICIT_HOST_PATHS = {"ambient-agent": {"/var/run/netns"}}

# Packages of bookworm-slim itself: their libraries need no install line.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


# ---------------------------------------------------------------- loading

def load_objects(folder):
    """[(file name, object)] of every YAML document in folder/*.yaml."""
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    out.append((os.path.basename(path), doc))
    return out


def by_kind(objects, kind):
    return [o for _, o in objects if o.get("kind") == kind]


def containers(objects):
    """(daemonset name, pod spec, container) for every container and init container."""
    for ds in by_kind(objects, "DaemonSet"):
        spec = ds["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            yield ds["metadata"]["name"], spec, c


def program(container):
    return os.path.basename(container["command"][0])


def flag_names(text):
    return set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", text))


def help_texts(binaries):
    """{program: --help output} for each {program: path}."""
    out = {}
    for name, path in binaries.items():
        r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{path} --help exited {r.returncode}: {r.stderr}")
        out[name] = r.stdout + r.stderr
    return out


def expand_args(container, objects, node_name="node-1"):
    """The container's args as the kubelet passes them: $(VAR) from its env (ConfigMap keys
    and fieldRefs resolved), so they can be fed to the real flag parser."""
    maps = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o.get("data", {})
            for o in by_kind(objects, "ConfigMap")}
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "configMapKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["configMapKeyRef"]
            for (_, name), data in maps.items():
                if name == ref["name"] and ref["key"] in data:
                    env[e["name"]] = data[ref["key"]]
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = {"spec.nodeName": node_name}.get(e["valueFrom"]["fieldRef"]["fieldPath"], "x")
    return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a)
            for a in container.get("args", [])]


# ---------------------------------------------------------------- checks

def check_flags(objects, helps):
    """Every --flag in a container's args appears in its program's --help."""
    problems = []
    for ds, _, c in containers(objects):
        prog = program(c)
        if prog not in helps:
            if prog != "sleep" or c.get("args"):
                problems.append(f"{ds}/{c['name']}: runs {prog}, which no check knows")
            continue
        known = flag_names(helps[prog])
        for arg in c.get("args", []):
            if arg.startswith("--") and arg.split("=", 1)[0] not in known:
                problems.append(f"{ds}/{c['name']}: {arg.split('=', 1)[0]} is not in {prog} --help")
    return problems


def check_parsers(objects, binaries):
    """The real parser accepts each container's expanded args (--help last: it parses every
    argument first, then prints help instead of running)."""
    problems = []
    for ds, _, c in containers(objects):
        prog = program(c)
        if prog not in binaries:
            continue
        args = expand_args(c, objects)
        r = subprocess.run([binaries[prog]] + args + ["--help"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            problems.append(f"{ds}/{c['name']}: {prog} rejects {args}: {r.stderr.strip()}")
    return problems


def check_env(objects):
    """Each env var is read by the program or used as $(VAR) in its args; each $(VAR) is set;
    each ConfigMap key reference exists."""
    problems = []
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in by_kind(objects, "ConfigMap")}
    for ds, _, c in containers(objects):
        names = [e["name"] for e in c.get("env", [])]
        text = " ".join(c.get("command", []) + c.get("args", []))
        expanded = set(re.findall(r"\$\((\w+)\)", text))
        reads = ENV_READ.get(program(c), set())
        for n in names:
            if n not in reads and n not in expanded:
                problems.append(f"{ds}/{c['name']}: env {n} is neither read by {program(c)} "
                                "nor used as $({n}) in its args")
        for n in expanded - set(names):
            problems.append(f"{ds}/{c['name']}: $({n}) in args but no env {n}")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("configMapKeyRef")
            if ref and ref["key"] not in maps.get(ref["name"], {}):
                problems.append(f"{ds}/{c['name']}: env {e['name']} wants ConfigMap "
                                f"{ref['name']} key {ref['key']}, which does not exist")
    return problems


def readme_ports(readme):
    """{port: row text} of the README's ports table."""
    return {int(m.group(1)): m.group(0)
            for m in re.finditer(r"^\| (\d+)(?:/udp)? \|.*$", readme, re.M)}


def help_default_port(help_text, port):
    return re.search(rf"\(default (\S*:)?{port}\)", help_text) is not None


def check_ports(objects, helps, readme):
    """Every containerPort and probe port is in the README's ports table and is the default of
    the program's port flag (or the port of its address flag in the args); probe paths are
    named in the README."""
    problems = []
    table = readme_ports(readme)
    for ds, _, c in containers(objects):
        prog = program(c)
        ports = [p["containerPort"] for p in c.get("ports", [])]
        probes = [c[k] for k in ("readinessProbe", "livenessProbe", "startupProbe") if k in c]
        for probe in probes:
            port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
            if port not in ports:
                problems.append(f"{ds}/{c['name']}: probe port {port} is not a containerPort")
            path = probe.get("httpGet", {}).get("path")
            named = port in table and re.search(rf"(?<![\w/]){re.escape(path or '')}(?![\w/])", table[port])
            if path and not named:
                problems.append(f"{ds}/{c['name']}: probe {path} on {port} is not in the README's ports table")
        for port in ports:
            if port not in table:
                problems.append(f"{ds}/{c['name']}: containerPort {port} is not in the README's ports table")
            in_args = any(re.search(rf":{port}$", a) for a in c.get("args", []))
            if not in_args and not help_default_port(helps.get(prog, ""), port):
                problems.append(f"{ds}/{c['name']}: containerPort {port} is neither a default in "
                                f"{prog} --help nor the port of an address in its args")
    return problems


def check_host_paths(objects, helps):
    """Each hostPath is mounted at the same path, and that path is one the program uses: a
    default in its --help, a flag value in its args (or a file under it), or a documented
    implicit path. HostToContainer propagation for the netns directory."""
    problems = []
    for ds, spec, c in containers(objects):
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        prog = program(c)
        values = [a.split("=", 1)[1] for a in c.get("args", []) if a.startswith("--") and "=" in a]
        for m in c.get("volumeMounts", []):
            host = vols.get(m["name"], {}).get("hostPath")
            if not host:
                continue
            where = f"{ds}/{c['name']}: hostPath {host['path']}"
            if host["path"] != m["mountPath"]:
                problems.append(f"{where} is mounted at {m['mountPath']}, not at the same path")
            path = m["mountPath"]
            used = (path in IMPLICIT_HOST_PATHS.get(prog, set())
                    or re.search(rf"{re.escape(path)}(/|\]|\)| |$)", helps.get(prog, ""), re.M)
                    or any(v == path or v.startswith(path + "/") for v in values))
            if not used:
                problems.append(f"{where} is not a path {prog} uses (its --help defaults or args)")
            if path == "/var/run/netns" and m.get("mountPropagation") != "HostToContainer":
                problems.append(f"{where} needs mountPropagation HostToContainer")
    return problems


def rbac_rules(objects):
    """{ClusterRole name: {(group, resource, verb)}}."""
    out = {}
    for role in by_kind(objects, "ClusterRole"):
        triples = set()
        for rule in role.get("rules", []):
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    for v in rule.get("verbs", []):
                        triples.add((g, r, v))
        out[role["metadata"]["name"]] = triples
    return out


def check_rbac(objects, expected=None):
    expected = expected if expected is not None else ROLE_OF
    problems = []
    roles = rbac_rules(objects)
    for name, want in expected.items():
        have = roles.get(name)
        if have is None:
            problems.append(f"ClusterRole {name} is missing")
            continue
        for t in sorted(have - want):
            problems.append(f"ClusterRole {name} grants {t}, which the code never calls")
        for t in sorted(want - have):
            problems.append(f"ClusterRole {name} lacks {t}, which the code calls")
    for name in set(roles) - set(expected):
        problems.append(f"ClusterRole {name} is not one the code needs")
    bindings = by_kind(objects, "ClusterRoleBinding")
    accounts = {(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in by_kind(objects, "ServiceAccount")}
    for b in bindings:
        for s in b.get("subjects", []):
            if (s.get("namespace"), s["name"]) not in accounts:
                problems.append(f"ClusterRoleBinding {b['metadata']['name']}: no ServiceAccount "
                                f"{s.get('namespace')}/{s['name']}")
    if {b["roleRef"]["name"] for b in bindings} != set(expected):
        problems.append("every ClusterRole needs exactly its binding")
    return problems


def resource_types(src):
    """{constant name (kPods): (group, plural)} from common/k8s/api_paths.h."""
    with open(os.path.join(src, "common/k8s/api_paths.h"), encoding="utf-8") as f:
        text = f.read()
    out = {}
    for m in re.finditer(r"ResourceType (k\w+)\{\s*\"([^\"]+)\",\s*\"([^\"]+)\",\s*\"(\w+)\"",
                         text):
        prefix = m.group(2)
        group = "" if prefix == "/api/v1" else prefix.split("/")[2]
        out[m.group(1)] = (group, m.group(3), m.group(4))
    return out


def derive_api_calls(src):
    """The (group, resource, verb) set each component calls, read from the sources: informers
    (list + watch) by kind, and per file the object paths it renders times the ApiClient
    methods it calls (get, mergePatch -> patch). A call the scan cannot place is a problem."""
    types = resource_types(src)
    by_kind_name = {kind: (g, r) for _, (g, r, kind) in types.items()}
    calls = {"ambient-agent": set(), "ambient-cni": set()}
    problems = []
    for component, folder in (("ambient-agent", "node-agent"), ("ambient-cni", "cni-plugin")):
        for path in glob.glob(os.path.join(src, folder, "**", "*.cpp"), recursive=True):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            rel = os.path.relpath(path, src)
            for kind in set(re.findall(r"(?:makeInformer|Informer)<k8s::(\w+)>", text)):
                if kind not in by_kind_name:
                    problems.append(f"{rel}: informer of unknown kind {kind}")
                    continue
                g, r = by_kind_name[kind]
                calls[component] |= {(g, r, "list"), (g, r, "watch")}
            consts = set(re.findall(r"render(?:Object|Collection)Path\(k8s::(k\w+)", text))
            verbs = set()
            if re.search(r"->get\(", text):
                verbs.add("get")
            if "mergePatch(" in text:
                verbs.add("patch")
            if re.search(r"->watch\(|renderWatchTarget|renderListTarget", text):
                problems.append(f"{rel}: a direct list/watch the scan does not place")
            if consts and not verbs:
                problems.append(f"{rel}: renders API paths but calls no method the scan knows")
            for c in consts:
                if c not in types:
                    problems.append(f"{rel}: unknown resource {c}")
                    continue
                g, r, _ = types[c]
                calls[component] |= {(g, r, v) for v in verbs}
    return calls, problems


def check_consistency(objects):
    """Cross-object facts: the agent recognises the ztunnel pods these manifests make; the
    installer, the kubeconfig writer, the agent and ztunnel name the same files."""
    problems = []
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in by_kind(objects, "ConfigMap")}
    conf = maps.get("ambient-agent", {})
    dss = {d["metadata"]["name"]: d for d in by_kind(objects, "DaemonSet")}
    zt = dss.get("ztunnel")
    if zt:
        pod = zt["spec"]["template"]
        key, _, value = conf.get("ZTUNNEL_LABEL", "=").partition("=")
        if pod["metadata"].get("labels", {}).get(key) != value:
            problems.append(f"ztunnel pods lack the label {key}={value} the agent looks for")
        if pod["spec"].get("serviceAccountName") != conf.get("ZTUNNEL_SERVICE_ACCOUNT"):
            problems.append("ztunnel pods' service account is not the agent's ZTUNNEL_SERVICE_ACCOUNT")
        if zt["metadata"]["namespace"] != conf.get("ZTUNNEL_NAMESPACE"):
            problems.append("ztunnel's namespace is not the agent's ZTUNNEL_NAMESPACE")
    flags = {}
    for ds, _, c in containers(objects):
        for a in expand_args(c, objects):
            if a.startswith("--") and "=" in a:
                flags[(ds, c["name"], a.split("=", 1)[0])] = a.split("=", 1)[1]
    pairs = [
        (("ambient-agent", "agent", "--socket"), ("ambient-agent", "install-cni", "--agent-socket")),
        (("ambient-agent", "install-cni", "--kubeconfig"), ("ambient-agent", "cni-kubeconfig", "--out")),
        (("ambient-agent", "agent", "--ztunnel-view-file"), ("ztunnel", "ztunnel", "--config")),
        (("ambient-agent", "agent", "--trust-domain"), ("ztunnel", "ztunnel", "--trust-domain")),
        (("ambient-agent", "agent", "--state-dir"), ("ambient-uninstall", "agent-uninstall", "--state-dir")),
        (("ambient-agent", "cni-kubeconfig", "--out"), ("ambient-uninstall", "remove-cni-kubeconfig", "--out")),
    ]
    for a, b in pairs:
        if a in flags and b in flags and flags[a] != flags[b]:
            problems.append(f"{'/'.join(a)}={flags[a]} but {'/'.join(b)}={flags[b]}")
    agent = dss.get("ambient-agent")
    if agent:
        strategy = agent["spec"].get("updateStrategy", {})
        if strategy.get("rollingUpdate") != {"maxUnavailable": 1, "maxSurge": 0}:
            problems.append("the agent must roll with maxUnavailable 1 and maxSurge 0")
        spec = agent["spec"]["template"]["spec"]
        if not spec.get("hostNetwork"):
            problems.append("the agent must run in the node's network namespace (hostNetwork)")
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        if env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName":
            problems.append("NODE_NAME must come from spec.nodeName")
    return problems


def containerfile_packages(text):
    """The packages of the install line after the `# runtime-packages:` marker."""
    m = re.search(r"# runtime-packages:\n(.*?)&& rm", text, re.S)
    if not m:
        return None
    body = m.group(1).replace("\\\n", " ")
    words = body.split()
    i = words.index("--no-install-recommends")
    return set(words[i + 1:])


def needed_packages(binaries):
    """Debian packages owning the shared libraries the binaries load (ldd + dpkg -S)."""
    libs = set()
    for path in binaries:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
        libs |= set(re.findall(r"=> (/\S+)", out))
    pkgs = set()
    for lib in libs:
        real = os.path.realpath(lib)
        candidates = {lib, real}
        for c in list(candidates):
            candidates.add(c[4:] if c.startswith("/usr/") else "/usr" + c)
        for c in candidates:
            r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
            if r.returncode == 0:
                pkgs.add(r.stdout.split(":", 1)[0])
                break
        else:
            pkgs.add(f"?{lib}")
    return pkgs


def check_image_packages(containerfile_text, binaries):
    listed = containerfile_packages(containerfile_text)
    if listed is None:
        return ["no `# runtime-packages:` install line"]
    need = needed_packages(binaries) - BASE_IMAGE_PACKAGES
    problems = [f"runtime image lacks {p}" for p in sorted(need - listed)]
    problems += [f"runtime image installs {p}, which no binary loads" for p in sorted(listed - need)]
    return problems


def check_image_contents(containerfile_text, objects, image_key, programs_in_image):
    """Each program a container of this image runs is copied into the image's PATH."""
    problems = []
    shipped = set()
    for m in re.finditer(r"^COPY (?:--from=\w+ )?((?:.|\\\n)*?) (/usr/local/bin/)\s*$",
                         containerfile_text, re.M):
        shipped |= {os.path.basename(s) for s in m.group(1).replace("\\\n", " ").split()}
    for ds, _, c in containers(objects):
        if image_key not in c["image"]:
            continue
        prog = program(c)
        if prog in programs_in_image and prog not in shipped:
            problems.append(f"{ds}/{c['name']} runs {prog}, which the image does not copy")
        for a in c.get("args", []):
            if a.startswith("--plugin-binary="):
                name = os.path.basename(a.split("=", 1)[1])
                if name not in shipped:
                    problems.append(f"{ds}/{c['name']}: {name} is not in the image")
    return problems
