package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// readmeInstallCommand is the one command the README gives for Debian.
func readmeInstallCommand(t *testing.T) string {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^.*apt-get install -y gcc .*&& \\./clinicvault$").Find(b)
	if m == nil {
		t.Fatal("README: no Debian install command")
	}
	return string(m)
}

// The README's Debian command works as root on a machine without sudo
// (a fresh container) and as a user with sudo: run with stand-ins for
// id, sudo, apt-get and go that record what they were asked.
func TestReadmeInstallCommandAsRootAndAsUser(t *testing.T) {
	command := readmeInstallCommand(t)
	for _, c := range []struct {
		uid      string
		withSudo bool
		want     string
	}{
		{"0", false, "apt-get update\napt-get install\ngo build\nclinicvault\n"},
		{"1000", true, "sudo apt-get update\nsudo apt-get install\ngo build\nclinicvault\n"},
	} {
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		os.Mkdir(bin, 0o755)
		log := filepath.Join(dir, "log")
		stub := func(name, body string) {
			os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755)
		}
		stub("id", "echo "+c.uid)
		stub("apt-get", `echo "${SUDO_SEEN:+sudo }apt-get $1" >> `+log)
		stub("go", `echo "go $1" >> `+log+`; printf '#!/bin/sh\necho clinicvault >> `+log+`\n' > clinicvault; chmod +x clinicvault`)
		if c.withSudo {
			stub("sudo", `SUDO_SEEN=1 "$@"`)
		} else {
			// As in a container: there is no sudo (this one shadows any
			// real one on the machine and fails as a missing one would).
			stub("sudo", `echo "sudo: not found" >&2; exit 127`)
		}
		cmd := exec.Command("/bin/sh", "-c", command)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("uid %s: %v\n%s", c.uid, err, out)
		}
		got, _ := os.ReadFile(log)
		if string(got) != c.want {
			t.Errorf("uid %s, sudo %v: ran\n%s\nwant\n%s", c.uid, c.withSudo, got, c.want)
		}
	}
}
