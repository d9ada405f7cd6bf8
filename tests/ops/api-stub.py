#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""api-stub.py PORTFILE: the least of a Kubernetes API server that
`kubectl apply --dry-run=client` needs, on a loopback port (written to
PORTFILE): discovery of the kinds deploy/kubernetes uses, and "not found"
for every object, so kubectl takes each one as new and prints what it
would create.  Nothing is stored; anything else is refused."""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

# group/version -> [(resource, kind, namespaced)]
RESOURCES = {
    "v1": [("namespaces", "Namespace", False), ("serviceaccounts", "ServiceAccount", True),
           ("configmaps", "ConfigMap", True)],
    "rbac.authorization.k8s.io/v1": [("clusterroles", "ClusterRole", False),
                                     ("clusterrolebindings", "ClusterRoleBinding", False)],
    "apps/v1": [("daemonsets", "DaemonSet", True)],
    "kubevirt.io/v1": [("virtualmachines", "VirtualMachine", True)],
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def discovery(path):
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        groups = []
        for gv in RESOURCES:
            if "/" in gv:
                g, v = gv.split("/")
                ver = {"groupVersion": gv, "version": v}
                groups.append({"name": g, "versions": [ver], "preferredVersion": ver})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    gv = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
    if gv in RESOURCES:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": [{"name": r, "singularName": k.lower(), "namespaced": ns, "kind": k,
                               "verbs": VERBS} for r, k, ns in RESOURCES[gv]]}
    return None


class Handler(BaseHTTPRequestHandler):
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        body = discovery(self.path.split("?")[0])
        if body is not None:
            self.reply(200, body)
        else:
            self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "NotFound", "code": 404, "message": "not found"})

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
