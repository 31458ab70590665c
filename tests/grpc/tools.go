//go:build tools

// Pins grpcurl (built by scripts/build-grpc-tools) in this module's go.mod.
package tools

import _ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
