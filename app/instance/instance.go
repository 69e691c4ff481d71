// Package instance keeps one ClinicVault window per data folder.
//
// The window that opens first takes an exclusive operating-system lock on
// LockFile in the data folder (flock on Unix, LockFileEx on Windows) and
// holds it until it ends; the system lets it go when the process dies,
// however it dies, so a file left by a killed process never blocks a
// start. The holder also listens on a loopback port and writes the port,
// its process id and a random token to AddressFile (mode 0600, replaced
// whole). A second start that finds the lock taken reads that file,
// connects, and sends the token; the holder compares it in constant time
// and, when it matches, brings its window forward and answers. The second
// start then ends without opening the databases.
package instance

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/clinicvault/clinicvault/store/filelock"
)

// The files the holder keeps in the data folder. Neither holds patient
// data; both belong to the running window, not to the vault.
const (
	// LockFile is locked by the window that is open on the folder.
	LockFile = ".instance.lock"
	// AddressFile says where that window listens, and the token it wants.
	AddressFile = ".instance"
)

// Protocol labels, versioned like age's: a request is the raise label, a
// space, the token in hex and a newline; the answer is the raised label
// and a newline, sent once the window was brought forward.
const (
	raiseLabel  = "clinicvault.org/instance/v1 raise"
	raisedLabel = "clinicvault.org/instance/v1 raised"
)

// ErrHeld is returned by Claim when another window holds the folder.
var ErrHeld = errors.New("another ClinicVault window is open on this data folder")

// ErrNoAnswer is returned by Open when the folder is held but the window
// holding it did not bring itself forward in time.
var ErrNoAnswer = errors.New("the ClinicVault window open on this data folder did not answer")

// tokenSize is the token's length in bytes: 256 random bits.
const tokenSize = 32

// answerWithin bounds how long the holder waits for a request's line, so
// a connection that says nothing cannot hold it.
const answerWithin = 2 * time.Second

// maxWaiting bounds the connections answered at once.
const maxWaiting = 16

// address is AddressFile's content.
type address struct {
	Port  int    `json:"port"`
	PID   int    `json:"pid"`
	Token string `json:"token"`
}

// Holder is a data folder held by this process's window.
type Holder struct {
	dir   string
	lock  *os.File
	ln    net.Listener
	token []byte

	serveOnce sync.Once
	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

// Claim takes dir (creating it, mode 0700, if needed) for this process's
// window, or returns ErrHeld when another window holds it. Requests to
// raise the window wait, unanswered, until Serve is called.
func Claim(dir string) (*Holder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	held, err := filelock.TryLock(f)
	if err != nil || held {
		f.Close()
		if held {
			return nil, ErrHeld
		}
		return nil, fmt.Errorf("instance: lock %s: %w", LockFile, err)
	}
	c := &Holder{dir: dir, lock: f, token: make([]byte, tokenSize), done: make(chan struct{})}
	if _, err := rand.Read(c.token); err != nil {
		f.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	c.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	a := address{Port: c.ln.Addr().(*net.TCPAddr).Port, PID: os.Getpid(), Token: hex.EncodeToString(c.token)}
	if err := writeAddress(dir, a); err != nil {
		c.ln.Close()
		f.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	return c, nil
}

// Serve answers requests to raise the window, each by calling raise
// (which returns once the window was brought forward), on a goroutine of
// its own, until Close. Only the first call counts.
func (c *Holder) Serve(raise func()) {
	c.serveOnce.Do(func() {
		c.wg.Add(1)
		go c.accept(raise)
	})
}

func (c *Holder) accept(raise func()) {
	defer c.wg.Done()
	// Each connection is answered on its own: any local process can
	// connect to the port, and one that says nothing must not keep a
	// second start waiting its turn behind it. At most maxWaiting are
	// waited on at once; one beyond them is closed at once.
	slots := make(chan struct{}, maxWaiting)
	var raising sync.Mutex // raising twice at once would gain nothing
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			conn.Close()
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() { <-slots }()
			answered := make(chan struct{})
			defer close(answered)
			go func() {
				select {
				case <-c.done:
					conn.Close() // Close does not wait out a silent one
				case <-answered:
				}
			}()
			c.answer(conn, func() {
				raising.Lock()
				defer raising.Unlock()
				raise()
			})
		}()
	}
}

// answer reads one request from conn and, when its token is the holder's,
// raises the window and says so.
func (c *Holder) answer(conn net.Conn, raise func()) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(answerWithin))
	line, err := bufio.NewReader(io.LimitReader(conn, 256)).ReadString('\n')
	if err != nil {
		return
	}
	if !c.matches(line) {
		return
	}
	raise()
	io.WriteString(conn, raisedLabel+"\n")
}

// matches reports whether line is a raise request with the holder's token,
// comparing the token in constant time.
func (c *Holder) matches(line string) bool {
	want := raiseLabel + " " + hex.EncodeToString(c.token) + "\n"
	return subtle.ConstantTimeCompare([]byte(line), []byte(want)) == 1
}

// Close stops answering, removes AddressFile and lets the folder go.
func (c *Holder) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.ln.Close()
		c.wg.Wait()
		os.Remove(filepath.Join(c.dir, AddressFile))
		filelock.Unlock(c.lock)
		c.lock.Close()
	})
	return nil
}

// Raise asks the window holding dir to come forward, and returns nil once
// it says it did. It tries once; ctx bounds the wait.
func Raise(ctx context.Context, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, AddressFile))
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	var a address
	if err := json.Unmarshal(b, &a); err != nil || a.Port <= 0 || a.Port > 65535 {
		return fmt.Errorf("instance: %s is not readable", AddressFile)
	}
	if a.PID > 0 {
		allowForeground(a.PID)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)))
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, raiseLabel+" "+a.Token+"\n"); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	line, err := bufio.NewReader(io.LimitReader(conn, 256)).ReadString('\n')
	if err != nil {
		return fmt.Errorf("instance: no answer: %w", err)
	}
	if line != raisedLabel+"\n" {
		return fmt.Errorf("instance: unexpected answer")
	}
	return nil
}

// retryEvery is how often Open tries again while the folder is held and
// its window has not answered (it may be starting, or just ending).
const retryEvery = 50 * time.Millisecond

// Open takes dir for this process's window, or brings forward the window
// that holds it. It returns the Holder when this process now holds the
// folder, or raised true when the other window came forward. When the
// folder stays held and unanswered until ctx ends, it returns ErrNoAnswer;
// a Claim that fails otherwise (the folder cannot be made or locked)
// returns that error at once.
func Open(ctx context.Context, dir string) (h *Holder, raised bool, err error) {
	for {
		c, err := Claim(dir)
		if err == nil {
			return c, false, nil
		}
		if !errors.Is(err, ErrHeld) {
			return nil, false, err
		}
		if Raise(ctx, dir) == nil {
			return nil, true, nil
		}
		select {
		case <-ctx.Done():
			return nil, false, ErrNoAnswer
		case <-time.After(retryEvery):
		}
	}
}

// writeAddress replaces AddressFile with a as a whole: a new file of mode
// 0600 in the folder, synced, then renamed over the old one.
func writeAddress(dir string, a address) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, AddressFile+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, AddressFile))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
