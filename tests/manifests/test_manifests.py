#!/usr/bin/python3
"""Tests of manifests/ (label unit): rendering, and the manifests against the built binaries,
the README and the sources. Every check also runs on a deliberately broken copy and must fail
there. Binaries come from CTest in the environment: AMBIENT_AGENT, AMBIENT_CNI_INSTALL,
AMBIENT_CNI, AMBIENT_CNI_API_LOOKUP, AMBIENTCTL, ZTUNNEL (unset or not a file: the checks that
need it skip; with CI set in the environment every suite fails instead, naming the variable).
Run: /usr/bin/python3 tests/manifests/test_manifests.py [TestClass]
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
MANIFESTS = os.path.join(SRC, "manifests")
sys.path.insert(0, HERE)
sys.path.insert(0, MANIFESTS)

import manifest_checks as mc  # noqa: E402
import render  # noqa: E402

KUBECONFIG_SCRIPT = os.path.join(MANIFESTS, "images", "ambient-cni-kubeconfig")


BINARY_VARS = ("AMBIENT_AGENT", "AMBIENTCTL", "AMBIENT_CNI", "AMBIENT_CNI_API_LOOKUP",
               "AMBIENT_CNI_INSTALL", "ZTUNNEL")


def binary(var):
    """The path in environment variable var, or "" when it is unset or names no file."""
    path = os.environ.get(var, "")
    return path if path and os.path.isfile(path) else ""


def missing_binaries():
    """["VAR (unset)" or "VAR=path (no such file)"] for each binary the suites use."""
    out = []
    for var in BINARY_VARS:
        path = os.environ.get(var, "")
        if not path:
            out.append(f"{var} (unset)")
        elif not os.path.isfile(path):
            out.append(f"{var}={path} (no such file)")
    return out


def binaries():
    out = {
        "ambient-agent": binary("AMBIENT_AGENT"),
        "ambient-cni-install": binary("AMBIENT_CNI_INSTALL"),
        "ztunnel": binary("ZTUNNEL"),
        "ambient-cni-kubeconfig": KUBECONFIG_SCRIPT,
    }
    return {k: v for k, v in out.items() if v}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class Broken:
    """A copy of base/ and uninstall/ in one temp folder with one text edit."""

    def __init__(self, file, old, new):
        self.file, self.old, self.new = file, old, new

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="manifests-broken-")
        for sub in ("base", "uninstall"):
            for name in os.listdir(os.path.join(MANIFESTS, sub)):
                shutil.copy(os.path.join(MANIFESTS, sub, name), self.dir)
        path = os.path.join(self.dir, self.file)
        text = read(path)
        assert self.old in text, f"{self.old!r} not in {self.file}"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(self.old, self.new, 1))
        return without_missing(mc.load_objects(self.dir))

    def __exit__(self, *exc):
        shutil.rmtree(self.dir)


def without_missing(objects):
    """Without a ztunnel binary (ZTUNNEL unset: the suite run by hand) its DaemonSet cannot be
    checked against it: leave it out, check the rest."""
    if "ztunnel" in binaries():
        return objects
    return [(f, o) for f, o in objects if not (o["kind"] == "DaemonSet" and o["metadata"]["name"] == "ztunnel")]


def real_objects():
    return without_missing(mc.load_objects(os.path.join(MANIFESTS, "base")) + mc.load_objects(
        os.path.join(MANIFESTS, "uninstall")))


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get("CI") and missing_binaries():
            raise RuntimeError("CI is set: failing instead of skipping; binaries missing: "
                               + ", ".join(missing_binaries()) + " (CTest sets them)")
        cls.bins = binaries()
        missing = {"ambient-agent", "ambient-cni-install"} - set(cls.bins)
        if missing:
            raise RuntimeError(f"set {missing} in the environment to existing files (CTest does)")
        cls.helps = mc.help_texts(cls.bins)
        cls.objects = real_objects()

    def skip_or_fail(self, why):
        """A check that cannot run: skipped on a developer's machine, a failure under CI."""
        if os.environ.get("CI"):
            self.fail(f"{why} (CI is set: failing instead of skipping)")
        self.skipTest(why)

    def assertFinds(self, problems, text):
        self.assertTrue(any(text in p for p in problems), f"want a problem with {text!r}: {problems}")


class RenderTest(Base):
    def rendered_problems(self, folder_of):
        problems = []
        values = render.load_values()
        for uninstall, sub in ((False, "base"), (True, "uninstall")):
            for name, text, _ in render.render_all(values, uninstall):
                path = os.path.join(folder_of(sub), name)
                if not os.path.exists(path) or read(path).split("\n", 1)[1] != text:
                    problems.append(f"{sub}/{name} is not the rendering of the defaults")
        return problems

    def test_base_is_the_rendering_of_the_defaults(self):
        self.assertEqual(self.rendered_problems(lambda sub: os.path.join(MANIFESTS, sub)), [])
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(MANIFESTS, os.path.join(tmp, "m"))
            path = os.path.join(tmp, "m", "base", "20-rbac.yaml")
            with open(path, "a", encoding="utf-8") as f:
                f.write("# hand edit\n")
            self.assertFinds(self.rendered_problems(lambda sub: os.path.join(tmp, "m", sub)),
                             "base/20-rbac.yaml")

    def test_every_object_parses_and_names_itself(self):
        self.assertGreater(len(self.objects), 10)
        for file, o in self.objects:
            for key in ("apiVersion", "kind"):
                self.assertIn(key, o, file)
            self.assertTrue(o["metadata"]["name"], file)

    def test_every_value_is_used(self):
        self.assertEqual(render.unused_values(render.load_values()), [])

    def test_values_reach_the_objects(self):
        values = render.load_values(sets=[
            "ztunnelNamespace=mesh", "tunnelPort=7000", "tunnelMode=vxlan",
            "excludedNamespaces=[kube-system, monitoring]", "logLevel=debug",
            "images.agent=reg.example/a:1", "agentExtraArgs=[--reconcile-interval=30]"])
        objects = [(n, o) for n, _, docs in render.render_all(values) for o in docs]
        for _, o in objects:
            if o["kind"] not in ("ClusterRole", "ClusterRoleBinding", "Namespace"):
                self.assertEqual(o["metadata"]["namespace"], "mesh", o["metadata"]["name"])
        conf = mc.by_kind(objects, "ConfigMap")[0]["data"]
        self.assertEqual(conf["TUNNEL_PORT"], "7000")
        self.assertEqual(conf["EXCLUDE_NAMESPACES"], "kube-system,monitoring")
        self.assertEqual(conf["ZTUNNEL_NAMESPACE"], "mesh")
        agent = next(c for _, _, c in mc.containers(objects) if c["name"] == "agent")
        self.assertEqual(agent["image"], "reg.example/a:1")
        self.assertEqual(agent["args"][-1], "--reconcile-interval=30")
        self.assertEqual(mc.check_parsers(objects, self.bins), [])
        default = render.load_values()
        self.assertNotEqual(render.config_hash(values), render.config_hash(default))

    def test_bad_values_are_refused(self):
        for bad in ("tunnelMode=gre", "tunnelPort=0", "ztunnelNamespace=Bad_NS", "nope=1",
                    "agentExtraArgs=[rm -rf]", "images.agent=a b", "excludedNamespaces=[]"):
            r = subprocess.run(["/usr/bin/python3", os.path.join(MANIFESTS, "render.py"),
                                "--set", bad], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("bad values", r.stderr)

    def test_unknown_placeholder_is_an_error(self):
        with self.assertRaises(render.TemplateError):
            render.render_text("a: ${nope}\n", render.load_values())


class FlagsTest(Base):
    def test_every_flag_is_in_the_binarys_help(self):
        self.assertEqual(mc.check_flags(self.objects, self.helps), [])
        with Broken("40-agent-daemonset.yaml", "--tunnel-port=", "--tunnel-prot=") as objects:
            self.assertFinds(mc.check_flags(objects, self.helps), "--tunnel-prot is not in ambient-agent")

    def test_the_real_parsers_accept_the_expanded_args(self):
        self.assertEqual(mc.check_parsers(self.objects, self.bins), [])
        with Broken("30-agent-config.yaml", 'TUNNEL_MODE: "auto"', 'TUNNEL_MODE: "gre"') as objects:
            self.assertFinds(mc.check_parsers(objects, self.bins), "ambient-agent rejects")
        with Broken("ambient-uninstall.yaml", "- --uninstall", "- --uninstall=yes") as objects:
            self.assertFinds(mc.check_parsers(objects, self.bins), "ambient-cni-install rejects")


class EnvTest(Base):
    def test_env_is_read_or_expanded(self):
        self.assertEqual(mc.check_env(self.objects), [])
        with Broken("40-agent-daemonset.yaml", "- name: NODE_NAME",
                    "- name: UNUSED\n              value: x\n            - name: NODE_NAME") as objects:
            self.assertFinds(mc.check_env(objects), "env UNUSED")
        with Broken("40-agent-daemonset.yaml", "key: LOG_LEVEL}", "key: LOGLEVEL}") as objects:
            self.assertFinds(mc.check_env(objects), "key LOGLEVEL")

    def test_env_read_list_matches_the_sources(self):
        main = read(os.path.join(SRC, "node-agent/main.cpp"))
        import re
        m = re.search(r"for \(const char\* name : \{([^}]*)\}\)", main)
        self.assertIsNotNone(m, "node-agent/main.cpp no longer lists the env it reads")
        self.assertEqual(set(re.findall(r'"(\w+)"', m.group(1))), mc.ENV_READ["ambient-agent"])
        for folder in ("ztunnel", "cni-plugin"):
            for root, _, files in os.walk(os.path.join(SRC, folder)):
                for f in files:
                    if f.endswith((".cpp", ".h")):
                        self.assertNotIn("getenv(", read(os.path.join(root, f)), f"{folder}/{f}")


class PortsTest(Base):
    def test_ports_match_readme_and_defaults(self):
        readme = read(os.path.join(SRC, "README.md"))
        self.assertEqual(mc.check_ports(self.objects, self.helps, readme), [])
        with Broken("40-agent-daemonset.yaml", "containerPort: 15031", "containerPort: 15032") as objects:
            problems = mc.check_ports(objects, self.helps, readme)
            self.assertFinds(problems, "containerPort 15032 is not in the README")
            self.assertFinds(problems, "probe port 15031 is not a containerPort")
        if "ztunnel" not in self.bins:
            self.skip_or_fail("no ztunnel binary (ZTUNNEL): its DaemonSet was not checked")
        with Broken("50-ztunnel-daemonset.yaml", "path: /healthz/ready", "path: /ready") as objects:
            self.assertFinds(mc.check_ports(objects, self.helps, readme), "probe /ready on 15021")
        with Broken("50-ztunnel-daemonset.yaml", "containerPort: 15020", "containerPort: 15031") as objects:
            self.assertFinds(mc.check_ports(objects, self.helps, readme), "containerPort 15031 is neither")


class HostPathTest(Base):
    def test_host_paths_are_used_by_the_binary(self):
        self.assertEqual(mc.check_host_paths(self.objects, self.helps), [])
        with Broken("40-agent-daemonset.yaml", "path: /var/run/ztunnel,", "path: /var/lib/ztunnel,") as objects:
            self.assertFinds(mc.check_host_paths(objects, self.helps), "not at the same path")
        with Broken("40-agent-daemonset.yaml", "path: /var/run/ambient, type", "path: /var/lib/ambient, type") as objects:
            for _, spec, c in mc.containers(objects):
                for m in c.get("volumeMounts", []):
                    if m["name"] == "ambient-state":
                        m["mountPath"] = "/var/lib/ambient"
            self.assertFinds(mc.check_host_paths(objects, self.helps),
                             "hostPath /var/lib/ambient is not a path ambient-agent uses")
        with Broken("40-agent-daemonset.yaml", "mountPropagation: HostToContainer", "mountPropagation: None") as objects:
            self.assertFinds(mc.check_host_paths(objects, self.helps), "HostToContainer")


class RbacTest(Base):
    def test_rbac_is_exactly_the_calls(self):
        self.assertEqual(mc.check_rbac(self.objects), [])
        with Broken("20-rbac.yaml", '"get", "list", "watch", "patch"', '"get", "list", "watch"') as objects:
            self.assertFinds(mc.check_rbac(objects), "lacks ('', 'pods', 'patch')")
        with Broken("20-rbac.yaml", 'verbs: ["get"]', 'verbs: ["get", "list"]') as objects:
            self.assertFinds(mc.check_rbac(objects), "grants ('', 'pods', 'list')")
        with Broken("20-rbac.yaml", '"authorizationpolicies", "peerauthentications"',
                    '"authorizationpolicies"') as objects:
            self.assertFinds(mc.check_rbac(objects),
                             "lacks ('security.istio.io', 'peerauthentications', 'list')")

    def test_the_listed_calls_are_the_ones_in_the_sources(self):
        calls, problems = mc.derive_api_calls(SRC)
        self.assertEqual(problems, [])
        self.assertEqual(calls["ambient-agent"], mc.AGENT_API_CALLS)
        self.assertEqual(calls["ambient-cni"], mc.PLUGIN_API_CALLS)
        with tempfile.TemporaryDirectory() as tmp:
            for rel in ("common/k8s/api_paths.h", "node-agent/sys/api_metadata_source.cpp",
                        "node-agent/sys/api_pod_annotator.cpp", "node-agent/sys/policy_watch.cpp",
                        "cni-plugin/sys/api_object_fetch.cpp"):
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                shutil.copy(os.path.join(SRC, rel), os.path.join(tmp, rel))
            path = os.path.join(tmp, "node-agent/sys/api_pod_annotator.cpp")
            text = read(path).replace("client_->mergePatch(", "client_->get(")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            calls, _ = mc.derive_api_calls(tmp)
            self.assertNotIn(("", "pods", "patch"), calls["ambient-agent"])
            self.assertIn(("security.istio.io", "peerauthentications", "watch"),
                          calls["ambient-agent"])


class ConsistencyTest(Base):
    def test_objects_agree_with_each_other(self):
        self.assertEqual(mc.check_consistency(self.objects), [])
        with Broken("40-agent-daemonset.yaml", "maxSurge: 0", "maxSurge: 1") as objects:
            self.assertFinds(mc.check_consistency(objects), "maxSurge 0")
        if "ztunnel" not in self.bins:
            self.skip_or_fail("no ztunnel binary (ZTUNNEL): its DaemonSet was not checked")
        with Broken("50-ztunnel-daemonset.yaml", "        app: ztunnel\n        app.kubernetes.io",
                    "        app: zt\n        app.kubernetes.io") as objects:
            self.assertFinds(mc.check_consistency(objects), "lack the label app=ztunnel")
        with Broken("50-ztunnel-daemonset.yaml", "--config=/var/run/ztunnel/config.json",
                    "--config=/var/run/ztunnel/view.json") as objects:
            self.assertFinds(mc.check_consistency(objects), "--ztunnel-view-file")


class ImagesTest(Base):
    def agent_binaries(self):
        names = ("AMBIENT_AGENT", "AMBIENTCTL", "AMBIENT_CNI", "AMBIENT_CNI_API_LOOKUP",
                 "AMBIENT_CNI_INSTALL")
        paths = [binary(n) for n in names]
        if not all(paths):
            self.skip_or_fail("set " + " ".join(names) + " to existing files")
        return paths

    def test_agent_image_installs_exactly_the_libraries(self):
        text = read(os.path.join(MANIFESTS, "images/agent.Containerfile"))
        self.assertEqual(mc.check_image_packages(text, self.agent_binaries()), [])
        broken = text.replace(" libmnl0", "").replace("libssl3", "libssl3 curl")
        problems = mc.check_image_packages(broken, self.agent_binaries())
        self.assertFinds(problems, "lacks libmnl0")
        self.assertFinds(problems, "installs curl")

    def test_ztunnel_image_installs_exactly_the_libraries(self):
        if "ztunnel" not in self.bins:
            self.skip_or_fail("no ztunnel binary (ZTUNNEL)")
        text = read(os.path.join(MANIFESTS, "images/ztunnel.Containerfile"))
        self.assertEqual(mc.check_image_packages(text, [self.bins["ztunnel"]]), [])
        self.assertFinds(mc.check_image_packages(text.replace(" libnghttp2-14", ""),
                                                 [self.bins["ztunnel"]]), "lacks libnghttp2-14")

    def test_images_ship_what_the_containers_run(self):
        agent = read(os.path.join(MANIFESTS, "images/agent.Containerfile"))
        zt = read(os.path.join(MANIFESTS, "images/ztunnel.Containerfile"))
        ours = {"ambient-agent", "ambient-cni-install", "ambient-cni-kubeconfig", "ztunnel"}
        self.assertEqual(mc.check_image_contents(agent, self.objects, "/agent:", ours), [])
        self.assertEqual(mc.check_image_contents(zt, self.objects, "/ztunnel:", ours), [])
        broken = agent.replace(" /build/cni-plugin/ambient-cni-install", "")
        self.assertFinds(mc.check_image_contents(broken, self.objects, "/agent:", ours),
                         "runs ambient-cni-install")
        broken = agent.replace("/build/cni-plugin/ambient-cni ", "")
        self.assertFinds(mc.check_image_contents(broken, self.objects, "/agent:", ours),
                         "ambient-cni is not in the image")
        # The build stage's COPY sources are the targets' paths in a build tree.
        build = os.environ.get("AMBIENT_BUILD_DIR")
        if build:
            import re
            for src in re.findall(r"/build/(\S+)", agent + zt):
                if "ztunnel" in src and "ztunnel" not in self.bins:
                    continue
                self.assertTrue(os.path.exists(os.path.join(build, src)), src)


class PluginKubeconfigTest(Base):
    """The kubeconfig the script writes works with the plugin's real API reader against the test
    API server (HTTPS, bearer token), and the reader makes only the calls its ClusterRole has."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cni-kubeconfig-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def run_script(self, *args, env=None):
        return subprocess.run([KUBECONFIG_SCRIPT, *args], capture_output=True, text=True,
                              env=env or {"PATH": os.environ["PATH"]}, timeout=30)

    def test_script_flags_and_files(self):
        tok = os.path.join(self.tmp, "tok")
        os.makedirs(tok)
        out = os.path.join(self.tmp, "kc")
        r = self.run_script("--once", f"--token-dir={tok}", f"--out={out}", "--server=https://h:1")
        self.assertEqual(r.returncode, 3, r.stderr)  # no token yet
        for name, content in (("token", "a.b-c_d"), ("ca.crt", "CA\n")):
            with open(os.path.join(tok, name), "w") as f:
                f.write(content)
        env = {"PATH": os.environ["PATH"], "KUBERNETES_SERVICE_HOST": "fd00::1",
               "KUBERNETES_SERVICE_PORT": "6443"}
        r = self.run_script("--once", "--token-dir", tok, "--out", out, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        import yaml
        kc = yaml.safe_load(read(out))
        self.assertEqual(kc["clusters"][0]["cluster"]["server"], "https://[fd00::1]:6443")
        self.assertEqual(kc["users"][0]["user"]["token"], "a.b-c_d")
        self.assertEqual(oct(os.stat(out).st_mode & 0o777), "0o600")
        self.assertEqual(self.run_script("--bogus").returncode, 2)
        self.assertEqual(self.run_script("--remove", f"--out={out}").returncode, 0)
        self.assertFalse(os.path.exists(out))

    def test_plugin_reads_the_api_with_it(self):
        lookup = binary("AMBIENT_CNI_API_LOOKUP")
        if not lookup:
            self.skip_or_fail("set AMBIENT_CNI_API_LOOKUP to an existing file")
        tok = os.path.join(self.tmp, "tok")
        os.makedirs(tok)
        key, cert = os.path.join(self.tmp, "key.pem"), os.path.join(tok, "ca.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        for path in (os.path.join(tok, "token"), os.path.join(self.tmp, "server-token")):
            with open(path, "w") as f:
                f.write("t0k.en")
        port_file = os.path.join(self.tmp, "port")
        log = open(os.path.join(self.tmp, "apiserver.log"), "w")
        self.addCleanup(log.close)
        server = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SRC, "tests/k8s/apiserver/apiserver.py"),
             "--port-file", port_file, "--tls-cert", cert, "--tls-key", key,
             "--token-file", os.path.join(self.tmp, "server-token"), "--parent-pid", str(os.getpid())],
            stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(lambda: (server.send_signal(signal.SIGTERM), server.wait(10)))
        for _ in range(200):
            if os.path.exists(port_file) and read(port_file).strip():
                break
            if server.poll() is not None:
                self.fail("apiserver.py exited: " + read(os.path.join(self.tmp, "apiserver.log")))
            import time
            time.sleep(0.05)  # polling for the port file, not synchronising on time
        port = int(read(port_file))
        base = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=cert)

        def control(path, body=None):
            req = urllib.request.Request(base + path, method="POST" if body is not None else "GET",
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return json.loads(r.read() or b"null")

        control("/_test/apply", {"resource": "namespaces", "object": {
            "metadata": {"name": "demo", "labels": {"istio.io/dataplane-mode": "ambient"}}}})
        control("/_test/apply", {"resource": "pods", "object": {
            "metadata": {"name": "web", "namespace": "demo"}, "spec": {"nodeName": "n1"}}})
        out = os.path.join(self.tmp, "ambient-cni-kubeconfig")
        r = self.run_script("--once", f"--token-dir={tok}", f"--out={out}", f"--server={base}")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = subprocess.run([lookup, out, "5000", "demo", "web"], capture_output=True, text=True,
                             timeout=30)
        reply = json.loads(got.stdout)
        self.assertNotIn("error", reply, reply)
        self.assertEqual(reply["pod"]["metadata"]["name"], "web")
        # The reader's calls are exactly the ambient-cni ClusterRole's rules.
        requests = control("/_test/requests")
        items = requests if isinstance(requests, list) else requests.get("requests", [])
        seen = set()
        for q in items:
            path = q.get("path", "").split("?")[0]
            if path.startswith("/api/"):
                parts = path.strip("/").split("/")
                resource = "pods" if "pods" in parts else "namespaces"
                seen.add(("", resource, {"GET": "get", "PATCH": "patch"}.get(q.get("method"), q.get("method"))))
        self.assertEqual(seen, mc.rbac_rules(self.objects)["ambient-cni"])
        # Broken: another token in the kubeconfig is refused by the server.
        with open(os.path.join(tok, "token"), "w") as f:
            f.write("wrong.token")
        self.assertEqual(self.run_script("--once", f"--token-dir={tok}", f"--out={out}",
                                         f"--server={base}").returncode, 0)
        reply = json.loads(subprocess.run([lookup, out, "5000", "demo", "web"], capture_output=True,
                                          text=True, timeout=30).stdout)
        self.assertIn("401", reply.get("error", ""), reply)


if __name__ == "__main__":
    unittest.main()
