// Package filelock holds the operating system's advisory file locks as
// ClinicVault uses them: flock on Unix, LockFileEx on the first byte on
// Windows. On both, every process, and every open of the file within one,
// excludes the others, and the system lets a lock go when its process
// dies. Package store locks vault.keys and its work folders with them;
// package app/instance, the data folder's one window.
package filelock
