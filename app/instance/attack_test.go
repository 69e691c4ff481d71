package instance

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestAttackIdleConnectionsDoNotSilenceTheHolder: any local process, of
// any user, can connect to the holder's loopback port. A few connections
// that say nothing, opened just before a second start, kept the holder
// waiting two seconds on each in turn, so the second start (which waits
// two seconds in all) said the window did not answer.
func TestAttackIdleConnectionsDoNotSilenceTheHolder(t *testing.T) {
	dir := t.TempDir()
	h := claim(t, dir)
	h.Serve(func() {})
	b, err := os.ReadFile(filepath.Join(dir, AddressFile))
	if err != nil {
		t.Fatal(err)
	}
	var a address
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(50 * time.Millisecond) // accepted, and waited on
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Raise(ctx, dir); err != nil {
		t.Fatalf("a second start behind three silent connections: %v", err)
	}
}

// TestAttackWrongTokensRaiseNothing: a request with another token, a
// token's prefix, an overlong line or no line at all raises nothing and
// gets no answer.
func TestAttackWrongTokensRaiseNothing(t *testing.T) {
	dir := t.TempDir()
	h := claim(t, dir)
	raised := make(chan struct{}, 8)
	h.Serve(func() { raised <- struct{}{} })
	b, _ := os.ReadFile(filepath.Join(dir, AddressFile))
	var a address
	json.Unmarshal(b, &a)
	for _, req := range []string{
		raiseLabel + " " + a.Token[:len(a.Token)-2] + "\n",
		raiseLabel + " " + a.Token + "00\n",
		raiseLabel + " \n",
		raiseLabel + " " + string(make([]byte, 4096)) + "\n",
		raiseLabel + " " + a.Token, // no newline
	} {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte(req))
		got, _ := readAll(c)
		c.Close()
		if got != "" {
			t.Errorf("answered %q", got)
		}
	}
	select {
	case <-raised:
		t.Fatal("a request without the token raised the window")
	default:
	}
}

func readAll(c net.Conn) (string, error) {
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out), err
		}
	}
}
