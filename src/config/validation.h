#pragma once
// Checks that span the whole bootstrap, made after every part loaded on its own: unique
// names, routes naming clusters that exist, something to serve.
#include "common/result.h"
#include "config/config.h"

namespace weir::config {

// Errors point at the offending entry's SourceLocation.
Status validate_bootstrap(const BootstrapConfig& config);

}  // namespace weir::config
