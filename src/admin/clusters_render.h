#pragma once
// GET /clusters in Envoy's text form ("cluster::host::field::value" lines) and as JSON.
#include <string>

#include "proxy/cluster_manager.h"

namespace weir::admin {

std::string render_clusters_text(const proxy::ClusterManager& clusters);
std::string render_clusters_json(const proxy::ClusterManager& clusters);

}  // namespace weir::admin
