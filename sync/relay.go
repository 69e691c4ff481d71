package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Relay is the relay transport: a NATS JetStream server or cluster that
// every computer of the practice reaches (relaynames.go says what it
// holds). It keeps the folder's promises: a batch's place is written
// once (a per-subject "last sequence" check), a republish is a no-op
// (message ids), and Watch hears a change the moment it is stored.
type Relay struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	vaultID string
	vault   string // RelayVaultName
	stream  jetstream.Stream
	pair    jetstream.Stream
	url     string

	replicas int

	mu   gosync.Mutex
	ids  map[string]string // device name → device id
	lost bool              // streams found gone (TakeLost)
}

func (r *Relay) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.nc.Opts.Timeout*2)
}

// TakeLost reports whether the relay was found without its streams (its
// disk wiped) since the last call: what it held is to be sent again.
func (r *Relay) TakeLost() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	lost := r.lost
	r.lost = false
	return lost
}

func (r *Relay) streamFor(subject string) (jetstream.Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.HasPrefix(subject, "cvpair.") {
		return r.pair, nil
	}
	if r.stream == nil {
		return nil, errors.New("sync: this relay connection is for pairing only")
	}
	return r.stream, nil
}

// lostStreams reports whether err says the relay no longer has the
// streams (its disk was wiped, or an operator deleted them), and if so
// finds or makes them again: the caller tries once more, and the
// computers refill what the relay lost.
func (r *Relay) lostStreams(err error) bool {
	if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrNoStreamResponse) &&
		!errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	ctx, cancel := r.ctx()
	defer cancel()
	pair, err := r.openStream(ctx, RelayPairStreamConfig(r.replicas))
	if err != nil {
		return false
	}
	var st jetstream.Stream
	if r.vault != "" {
		if st, err = r.openStream(ctx, RelayStreamConfig(r.vault, r.replicas)); err != nil {
			return false
		}
	}
	r.mu.Lock()
	r.pair = pair
	r.lost = true
	clear(r.ids) // the computers' ids are to be written again
	if st != nil {
		r.stream = st
	}
	r.mu.Unlock()
	return true
}

// minChunk is the least a long message's head carries (a NATS server
// takes 1 MB a message unless told otherwise; one that takes less than
// 40 KB is not one ClinicVault can use).
const minChunk = 32 << 10

// maxRelayMessage bounds what one message read from the relay may add up
// to: a batch's envelope at most, and a little room.
const maxRelayMessage = maxEnvelope + 1<<20

// Headers of the messages the relay holds.
const (
	hdrParts   = "Cv-Parts"   // a long message's number of parts
	hdrRemoved = "Cv-Removed" // a path removed (the relay keeps the place)
)

// chunk is the most one message carries: below the server's limit.
func (r *Relay) chunk() int {
	n := int(r.nc.MaxPayload()) - 8<<10 // room for the headers
	return max(n, minChunk)
}

// put stores data at subject: once (ErrExists when the place is taken)
// or replacing what is there.
func (r *Relay) put(subject string, data []byte, once bool) error {
	_, err := again(r, func() (struct{}, error) { return struct{}{}, r.put1(subject, data, once) })
	return err
}

// again runs op, and once more when the relay had lost its streams (its
// disk wiped): lostStreams has found or made them again meanwhile.
func again[T any](r *Relay, op func() (T, error)) (T, error) {
	v, err := op()
	if err != nil && r.lostStreams(err) {
		v, err = op()
	}
	return v, err
}

func (r *Relay) put1(subject string, data []byte, once bool) error {
	if err := r.Check(); err != nil {
		return err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	head := data
	msg := nats.NewMsg(subject)
	if n := r.chunk(); len(data) > n {
		parts := (len(data) + n - 1) / n
		head = data[:n]
		for i := 1; i < parts; i++ {
			end := min((i+1)*n, len(data))
			pm := nats.NewMsg(partSubject(subject, i))
			pm.Data = data[i*n : end]
			if _, err := r.js.PublishMsg(ctx, pm); err != nil {
				return r.publishError(subject, err)
			}
		}
		msg.Header.Set(hdrParts, strconv.Itoa(parts))
	}
	msg.Data = head
	sum := sha256.Sum256(data)
	// A republish of the same bytes (a retry after a cut) is dropped by
	// the relay as a duplicate instead of refused.
	msg.Header.Set(jetstream.MsgIDHeader, subject+"/"+hex.EncodeToString(sum[:12]))
	var popts []jetstream.PublishOpt
	if once {
		popts = append(popts, jetstream.WithExpectLastSequencePerSubject(0))
	}
	if _, err := r.js.PublishMsg(ctx, msg, popts...); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return fmt.Errorf("sync: %s: %w", subject, ErrExists)
		}
		return r.publishError(subject, err)
	}
	if strings.HasPrefix(subject, "cv.") {
		r.nc.Publish(RelayNoteSubject(r.vault), nil) // wakes the watchers; lost, it costs a poll
	}
	return nil
}

func (r *Relay) publishError(subject string, err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("relay: %s: %w", subject, err) // lostStreams looks at it
	}
	if !r.nc.IsConnected() {
		return fmt.Errorf("the relay at %s went away while sending (%v): %w", r.url, err, ErrUnreachable)
	}
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		if last := r.nc.LastError(); last != nil && strings.Contains(strings.ToLower(last.Error()), "permission") {
			return fmt.Errorf("%s: %w: %v", subject, ErrRelayRefused, last)
		}
		return fmt.Errorf("the relay at %s did not confirm %s in time (%v): %w", r.url, subject, err, ErrUnreachable)
	}
	return fmt.Errorf("relay: %s: %w", subject, err)
}

// get reads what subject holds (os.ErrNotExist when nothing).
func (r *Relay) get(subject string) ([]byte, error) {
	return again(r, func() ([]byte, error) { return r.get1(subject) })
}

func (r *Relay) get1(subject string) ([]byte, error) {
	st, err := r.streamFor(subject)
	if err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("relay: %s: %w", subject, os.ErrNotExist)
	}
	if err != nil {
		return nil, relayError(r.url, err)
	}
	if m.Header.Get(hdrRemoved) != "" {
		return nil, fmt.Errorf("relay: %s: %w", subject, os.ErrNotExist)
	}
	parts, _ := strconv.Atoi(m.Header.Get(hdrParts))
	if parts <= 1 {
		return m.Data, nil
	}
	// Nothing the relay holds is longer than a batch may be: a message
	// claiming more parts, or parts adding up to more, is not read on.
	if len(m.Data) < minChunk || parts > maxRelayMessage/len(m.Data)+1 {
		return nil, fmt.Errorf("relay: %s claims %d parts of %d bytes: %w", subject, parts, len(m.Data), ErrMalformed)
	}
	buf := bytes.NewBuffer(append([]byte(nil), m.Data...))
	for i := 1; i < parts; i++ {
		pm, err := st.GetLastMsgForSubject(ctx, partSubject(subject, i))
		if err != nil {
			return nil, fmt.Errorf("relay: %s: part %d of %d missing (%v): %w", subject, i+1, parts, err, os.ErrNotExist)
		}
		if buf.Len()+len(pm.Data) > maxRelayMessage {
			return nil, fmt.Errorf("relay: %s is longer than any batch: %w", subject, ErrMalformed)
		}
		buf.Write(pm.Data)
	}
	return buf.Bytes(), nil
}

// subjects lists the subjects matching filter.
func (r *Relay) subjects(filter string) ([]string, error) {
	return again(r, func() ([]string, error) { return r.subjects1(filter) })
}

func (r *Relay) subjects1(filter string) ([]string, error) {
	st, err := r.streamFor(filter)
	if err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, relayError(r.url, err)
	}
	out := make([]string, 0, len(info.State.Subjects))
	for s := range info.State.Subjects {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

func (r *Relay) needVault() error {
	if r.stream == nil {
		return errors.New("sync: this relay connection is for pairing only")
	}
	return nil
}

// Put writes a device's batch, once.
func (r *Relay) Put(device string, seq uint64, env []byte) error {
	if err := r.needVault(); err != nil {
		return err
	}
	name := RelayDeviceName(r.vaultID, device)
	r.mu.Lock()
	_, known := r.ids[name]
	r.mu.Unlock()
	if !known {
		// Its id, for Devices: the relay's subjects name it only by hash.
		err := r.put("cv."+r.vault+".d."+name, []byte(device), true)
		if err != nil && !errors.Is(err, ErrExists) {
			return err
		}
		r.mu.Lock()
		r.ids[name] = device
		r.mu.Unlock()
	}
	return r.put(BatchSubject(r.vault, name, seq), env, true)
}

// ReplaceBatch writes env over a device's place (its own log only).
func (r *Relay) ReplaceBatch(device string, seq uint64, env []byte) error {
	if err := r.needVault(); err != nil {
		return err
	}
	return r.put(BatchSubject(r.vault, RelayDeviceName(r.vaultID, device), seq), env, false)
}

// Get reads a device's batch.
func (r *Relay) Get(device string, seq uint64) ([]byte, error) {
	if err := r.needVault(); err != nil {
		return nil, err
	}
	return r.get(BatchSubject(r.vault, RelayDeviceName(r.vaultID, device), seq))
}

// Devices lists the devices that have written batches. A name whose id
// does not hash to it is skipped (planted by someone).
func (r *Relay) Devices() ([]string, error) {
	if err := r.needVault(); err != nil {
		return nil, err
	}
	subs, err := r.subjects("cv." + r.vault + ".d.*")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range subs {
		name := s[strings.LastIndexByte(s, '.')+1:]
		r.mu.Lock()
		id, ok := r.ids[name]
		r.mu.Unlock()
		if !ok {
			data, err := r.get(s)
			if err != nil {
				continue
			}
			id = string(data)
			if _, err := parseUUID(id); err != nil || RelayDeviceName(r.vaultID, id) != name {
				continue
			}
			r.mu.Lock()
			r.ids[name] = id
			r.mu.Unlock()
		}
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// Seqs lists a device's batch numbers above after, in order.
func (r *Relay) Seqs(device string, after uint64) ([]uint64, error) {
	if err := r.needVault(); err != nil {
		return nil, err
	}
	prefix := "cv." + r.vault + ".b." + RelayDeviceName(r.vaultID, device) + "."
	subs, err := r.subjects(prefix + "*")
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, s := range subs {
		if n, err := strconv.ParseUint(strings.TrimPrefix(s, prefix), 10, 64); err == nil && n > after {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// WriteOnce writes a path that is never rewritten (ErrExists).
func (r *Relay) WriteOnce(rel string, data []byte) error {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return err
	}
	if err := r.pathAllowed(subj); err != nil {
		return err
	}
	return r.put(subj, data, true)
}

// Replace writes a path over what is there.
func (r *Relay) Replace(rel string, data []byte) error {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return err
	}
	if err := r.pathAllowed(subj); err != nil {
		return err
	}
	return r.put(subj, data, false)
}

func (r *Relay) pathAllowed(subj string) error {
	if !strings.HasPrefix(subj, "cvpair.") {
		return r.needVault()
	}
	return nil
}

// Read reads a path (os.ErrNotExist when it is not there).
func (r *Relay) Read(rel string) ([]byte, error) {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return nil, err
	}
	return r.get(subj)
}

// children lists the next path element under dir: files (no deeper
// tokens) or folders.
func (r *Relay) children(dir string, folders bool) ([]string, error) {
	subj, err := pathSubject(r.vault, dir)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(subj, "cv.") && r.stream == nil {
		return nil, nil
	}
	subs, err := r.subjects(subj + ".>")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range subs {
		rest := strings.Split(strings.TrimPrefix(s, subj+"."), ".")
		if folders != (len(rest) > 1) {
			continue
		}
		b, err := hex.DecodeString(rest[0])
		if err != nil || seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out, nil
}

// List returns the names of the files in dir.
func (r *Relay) List(dir string) ([]string, error) { return r.children(dir, false) }

// Dirs returns the names of the folders within dir.
func (r *Relay) Dirs(dir string) ([]string, error) { return r.children(dir, true) }

// Remove marks a path removed: members may not delete from the stream,
// so the place keeps an empty marker (pairing files also age out).
func (r *Relay) Remove(rel string) error {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return err
	}
	if err := r.pathAllowed(subj); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	msg := nats.NewMsg(subj)
	msg.Header.Set(hdrRemoved, "1")
	_, err = r.js.PublishMsg(ctx, msg)
	if err != nil {
		return r.publishError(subj, err)
	}
	return nil
}

// Epochs lists the key epochs the relay holds files for, in order.
func (r *Relay) Epochs() ([]uint32, error) {
	names, err := r.Dirs("epochs")
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, n := range names {
		if e, err := strconv.ParseUint(n, 10, 32); err == nil {
			out = append(out, uint32(e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Watch calls changed whenever the relay stores anything of the vault
// (a subscription: no polling), when the connection comes back, and
// every poll besides. It returns when ctx ends.
func (r *Relay) Watch(ctx context.Context, poll time.Duration, changed func()) {
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	subject := "cvpair.>" // pairing files are small
	if r.stream != nil {
		subject = RelayNoteSubject(r.vault)
	}
	sub, err := r.nc.Subscribe(subject, func(*nats.Msg) { poke() })
	if err == nil {
		defer sub.Unsubscribe()
	}
	r.nc.SetReconnectHandler(func(*nats.Conn) { poke() })
	defer r.nc.SetReconnectHandler(nil)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			changed()
		case <-tick.C:
			changed()
		}
	}
}

var _ Transport = (*Relay)(nil)
