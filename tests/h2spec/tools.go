//go:build tools

// Pins h2spec (the HTTP/2 conformance tester test_h2spec.py runs against weir) in this
// module's go.mod/go.sum; scripts/build-h2spec builds it.
package tools

import _ "github.com/summerwind/h2spec/cmd/h2spec"
