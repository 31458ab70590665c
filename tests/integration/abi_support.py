"""Config builders shared by the test_abi_*.py tests: a listener routed to the cluster
`upstream`, any number of extra clusters, wasm filters and bootstrap WasmServices."""
import json
import time

from weir_harness import Weir, cluster, free_port, proxy_config, request, stats


def wasm_service(name, wasm_path, root_id, vm_id, configuration="", singleton=True):
    return f"""
  - name: envoy.bootstrap.wasm
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.wasm.v3.WasmService
      singleton: {"true" if singleton else "false"}
      config:
        name: {name}
        root_id: {json.dumps(root_id)}
        configuration:
          "@type": type.googleapis.com/google.protobuf.StringValue
          value: {json.dumps(configuration)}
        vm_config:
          vm_id: {json.dumps(vm_id)}
          runtime: "envoy.wasm.runtime.v8"
          code:
            local:
              filename: {wasm_path}"""


def config(listen, admin, clusters, filters="", services="", hcm_extra=""):
    """`clusters`: {name: port}; requests are routed to the cluster named upstream."""
    extra = {n: p for n, p in clusters.items() if n != "upstream"}
    return proxy_config(listen, admin, clusters["upstream"], filters=filters,
                        hcm_extra=hcm_extra, extra_clusters=extra, services=services)


def start(clusters, filters="", services="", hcm_extra="", concurrency=1):
    listen, admin = free_port(), free_port()
    weir = Weir(config(listen, admin, clusters, filters, services, hcm_extra),
                args=("--concurrency", str(concurrency)), wait_ports=(listen, admin))
    weir.listen, weir.admin = listen, admin
    return weir


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def stat(weir, name):
    return stats(weir.admin).get(name)


__all__ = ["cluster", "wasm_service", "config", "start", "wait_for", "stat", "request"]
