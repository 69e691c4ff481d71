//go:build !linux && !windows && !(darwin && cgo)

package screenlock

import "context"

// Watch does nothing here: this system (or a build without cgo on macOS)
// tells ClinicVault nothing about its session, so only ClinicVault's own
// idle lock and Lock button lock it.
func Watch(ctx context.Context, lock func()) {}
