#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""k8s-schema.py FILE...: each object of the manifests against the types of
the Kubernetes API as Debian's python3-kubernetes has them (its models are
generated from the API's OpenAPI spec): an unknown field, a value of the
wrong type or a required field left out is an error.  Kinds the client
does not know (KubeVirt's) are only checked to have apiVersion, kind and
metadata.name.  Prints "ok KIND NAME" or "error: ..." per object; exits 1
on any error."""
import sys

import kubernetes.client as k8s
import yaml

SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def model_of(api_version, kind):
    """apps/v1 DaemonSet -> V1DaemonSet (the client names types by version)"""
    version = api_version.rpartition("/")[2]
    return getattr(k8s, version.capitalize() + kind, None)


def check(value, typ, path, errors):
    if typ == "object":
        return
    if typ.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: a list expected")
            return
        for i, v in enumerate(value):
            check(v, typ[5:-1], f"{path}[{i}]", errors)
        return
    if typ.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: a map expected")
            return
        inner = typ[5:-1].split(", ", 1)[1]
        for key, v in value.items():
            check(v, inner, f"{path}.{key}", errors)
        return
    if typ in SCALARS:
        if not isinstance(value, SCALARS[typ]) or (typ == "int" and isinstance(value, bool)):
            errors.append(f"{path}: {typ} expected, got {value!r}")
        return
    if typ == "datetime":
        return
    model = getattr(k8s, typ)
    if not isinstance(value, dict):
        errors.append(f"{path}: an object ({typ}) expected")
        return
    by_json = {json: attr for attr, json in model.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            errors.append(f"{path}.{key}: no such field in {typ}")
            continue
        check(v, model.openapi_types[by_json[key]], f"{path}.{key}", errors)
    # required fields: the model refuses None for them
    try:
        model(**{by_json[key]: v for key, v in value.items() if key in by_json})
    except ValueError as e:
        errors.append(f"{path}: {e}")


def main(files):
    bad = 0
    for name in files:
        with open(name) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            errors = []
            kind, api = doc.get("kind"), doc.get("apiVersion")
            meta = doc.get("metadata") or {}
            what = f"{name}: {kind} {meta.get('name')}"
            if not (kind and api and meta.get("name")):
                errors.append("apiVersion, kind and metadata.name are required")
            model = model_of(api or "", kind or "")
            if model is None:
                print(f"ok (no schema here for {api}) {what}")
            else:
                check(doc, model.__name__, kind, errors)
            for e in errors:
                print(f"error: {what}: {e}")
            if not errors and model is not None:
                print(f"ok {what}")
            bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
