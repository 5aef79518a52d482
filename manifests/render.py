#!/usr/bin/python3
"""Renders the Kubernetes manifests of ambient-redirect from manifests/templates/ and values.

Pure text templating that keeps the templates' comments: `${key}` (or `${images.agent}`) is
replaced by the value, and a list item line that is only `- ${key}` becomes one item per
element of a list value (none for an empty list). Values are validated first (each key has a
pattern), so a substituted value cannot change the YAML structure; the result is then parsed
to be sure. Needs Debian's python3-yaml (run /usr/bin/python3).

  manifests/render.py [--values FILE]... [--set KEY=VALUE]... [--uninstall] [--out-dir DIR]
  manifests/render.py --write-defaults     # regenerate manifests/base/ and manifests/uninstall/

Output: every object as one multi-document YAML stream on stdout, or with --out-dir one file
per template. Exit codes: 0 rendered, 1 a template problem, 2 bad values or usage.
"""

import argparse
import hashlib
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
DEFAULTS = os.path.join(HERE, "values.yaml")

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_IMAGE = r"[a-z0-9][a-z0-9._/:@-]{0,254}"
_FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*(=\S*)?$")
# One pattern (or check) per value: what may be substituted into a template.
SCALAR_RULES = {
    "ztunnelNamespace": _DNS_LABEL,
    "tunnelMode": r"geneve|vxlan|auto",
    "tunnelPort": None,  # int, checked below
    "trustDomain": r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?",
    "logLevel": r"debug|info|warn|error",
    "images.agent": _IMAGE,
    "images.ztunnel": _IMAGE,
    "images.pullPolicy": r"Always|IfNotPresent|Never",
    "hostPID": None,  # bool
    "ztunnelCaSecret": _DNS_LABEL,
}
LIST_RULES = {"excludedNamespaces": _DNS_LABEL, "agentExtraArgs": None, "ztunnelExtraArgs": None}


class ValuesError(Exception):
    pass


class TemplateError(Exception):
    pass


def _flatten(values, prefix=""):
    out = {}
    for key, value in values.items():
        name = prefix + key
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _merge(base, override, where):
    for key, value in override.items():
        if key not in base:
            raise ValuesError(f"{where}: unknown value '{key}' (see {DEFAULTS})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ValuesError(f"{where}: '{key}' must be a mapping")
            _merge(base[key], value, where)
        else:
            base[key] = value


def load_values(files=(), sets=()):
    """Defaults from values.yaml, then each --values file, then each --set KEY=VALUE."""
    with open(DEFAULTS, encoding="utf-8") as f:
        values = yaml.safe_load(f)
    for path in files:
        with open(path, encoding="utf-8") as f:
            override = yaml.safe_load(f) or {}
        if not isinstance(override, dict):
            raise ValuesError(f"{path}: values must be a mapping")
        _merge(values, override, path)
    for item in sets:
        key, eq, text = item.partition("=")
        if not eq:
            raise ValuesError(f"--set {item}: want KEY=VALUE")
        node = {}
        cursor = node
        parts = key.split(".")
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = yaml.safe_load(text)
        _merge(values, node, f"--set {item}")
    validate(values)
    return values


def validate(values):
    flat = _flatten(values)
    expected = set(SCALAR_RULES) | set(LIST_RULES)
    if set(flat) != expected:
        raise ValuesError(f"values have keys {sorted(flat)}, want {sorted(expected)}")
    for key, pattern in SCALAR_RULES.items():
        value = flat[key]
        if key == "tunnelPort":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise ValuesError(f"tunnelPort must be a number from 1 to 65535, not {value!r}")
        elif key == "hostPID":
            if not isinstance(value, bool):
                raise ValuesError(f"hostPID must be true or false, not {value!r}")
        elif not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ValuesError(f"{key}: {value!r} does not match {pattern}")
    for key, pattern in LIST_RULES.items():
        items = flat[key]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValuesError(f"{key} must be a list of strings")
        for item in items:
            if pattern and not re.fullmatch(pattern, item):
                raise ValuesError(f"{key}: {item!r} does not match {pattern}")
            if not pattern and not _FLAG.match(item):
                raise ValuesError(f"{key}: {item!r} is not a --flag or --flag=value")
    if not values["excludedNamespaces"]:
        raise ValuesError("excludedNamespaces must name at least one namespace (kube-system)")


def config_hash(values):
    """Changes with any value, so the DaemonSets roll when the rendered settings change."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z.]+)\}")
_LIST_LINE = re.compile(r"^(\s*)- \$\{([A-Za-z.]+)\}\s*$")


def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def render_text(text, values, name="template"):
    flat = _flatten(values)
    flat["configHash"] = config_hash(values)
    used = set()
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _LIST_LINE.match(line)
        if m and isinstance(flat.get(m.group(2)), list):
            used.add(m.group(2))
            out.extend(f"{m.group(1)}- {json.dumps(item)}" for item in flat[m.group(2)])
            continue

        def sub(match, lineno=lineno):
            key = match.group(1)
            if key not in flat:
                raise TemplateError(f"{name}:{lineno}: unknown placeholder ${{{key}}}")
            used.add(key)
            return _scalar_text(flat[key])

        out.append(_PLACEHOLDER.sub(sub, line))
    rendered = "\n".join(out) + "\n"
    try:
        docs = [d for d in yaml.safe_load_all(rendered) if d is not None]
    except yaml.YAMLError as e:
        raise TemplateError(f"{name}: rendered text is not YAML: {e}") from e
    return rendered, docs, used


def template_files(uninstall=False):
    folder = os.path.join(TEMPLATES, "uninstall") if uninstall else TEMPLATES
    return sorted(
        os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".yaml")
    )


def render_all(values, uninstall=False):
    """[(file name, rendered text, [objects])] for the install (or the uninstall) templates."""
    result = []
    for path in template_files(uninstall):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rendered, docs, _ = render_text(text, values, os.path.relpath(path, HERE))
        result.append((os.path.basename(path), rendered, docs))
    return result


def unused_values(values):
    """Value keys no template uses (a typo in a template would leave one unused)."""
    used = set()
    for uninstall in (False, True):
        for path in template_files(uninstall):
            with open(path, encoding="utf-8") as f:
                used |= render_text(f.read(), values, path)[2]
    return sorted(set(_flatten(values)) - used)


def write_dir(rendered, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, text, _ in rendered:
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write("# Rendered by manifests/render.py from manifests/templates; do not edit.\n")
            f.write(text)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", action="append", default=[], metavar="FILE")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--uninstall", action="store_true",
                        help="render the per-node uninstall DaemonSet instead")
    parser.add_argument("--out-dir", metavar="DIR", help="one file per template")
    parser.add_argument("--write-defaults", action="store_true",
                        help="regenerate manifests/base and manifests/uninstall from defaults")
    args = parser.parse_args(argv)
    try:
        values = load_values(args.values, args.set)
        if args.write_defaults:
            write_dir(render_all(values), os.path.join(HERE, "base"))
            write_dir(render_all(values, uninstall=True), os.path.join(HERE, "uninstall"))
            return 0
        rendered = render_all(values, args.uninstall)
        if args.out_dir:
            write_dir(rendered, args.out_dir)
        else:
            for _, text, _ in rendered:
                sys.stdout.write("---\n" + text)
        return 0
    except ValuesError as e:
        print(f"render.py: bad values: {e}", file=sys.stderr)
        return 2
    except (TemplateError, OSError) as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
