package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/clinicvault/clinicvault/store"
)

// Governance settings and thresholds.
const (
	settingSeatLimit    = "seat_limit"
	settingAccessReview = "access_review_at"
	unusedAfter         = 90 * 24 * time.Hour
	reviewEvery         = 91 * 24 * time.Hour // a quarter
	failedBurst         = 10                  // failed sign-ins in 24 hours
	deviceQuiet         = 14 * 24 * time.Hour
)

var (
	// ErrSeatLimit refuses a user beyond the practice's seat limit.
	ErrSeatLimit = errors.New("the practice's seat limit is reached: remove an account or raise the limit")
	// ErrRestricted means the chart is restricted to named clinicians; use
	// emergency access with a reason.
	ErrRestricted = errors.New("this chart is restricted to named clinicians: open it with emergency access and a reason")
)

// SeatLimit returns the practice's seat limit (0: none).
func (s *Session) SeatLimit(ctx context.Context) (int, error) {
	if err := s.require(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return seatLimit(ctx, s.general)
}

// seatLimit reads the seat limit setting (0: none).
func seatLimit(ctx context.Context, q querier) (int, error) {
	v, err := readSetting(ctx, q, settingSeatLimit)
	if err != nil {
		return 0, err
	}
	n, _ := strconv.Atoi(v) // written only by SetSeatLimit, as a number
	return n, nil
}

// activeUsers counts the accounts not removed.
func activeUsers(ctx context.Context, q querier) (int, error) {
	return scalar[int](ctx, q, `SELECT count(*) FROM users WHERE removed_at IS NULL`)
}

// SetSeatLimit sets how many accounts the practice may have (admins; 0
// removes the limit). It cannot be set below the current count.
func (s *Session) SetSeatLimit(ctx context.Context, n int) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	if n < 0 || n > 10000 {
		return fmt.Errorf("a seat limit is 0 (none) to 10000: %w", ErrUsage)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		count, err := activeUsers(ctx, tx)
		if err != nil {
			return err
		}
		if n > 0 && n < count {
			return invalid("the practice has %d accounts; a limit of %d would be below that", count, n)
		}
		if err := setSetting(ctx, tx, settingSeatLimit, strconv.Itoa(n)); err != nil {
			return err
		}
		return audit(ctx, tx, s.v.now(), s.actor(), "settings-changed", "seat limit", strconv.Itoa(n))
	})
}

// checkSeat refuses a new account beyond the seat limit.
func (s *Session) checkSeat(ctx context.Context, tx querier) error {
	// A limit or a count that cannot be read refuses the account rather
	// than reading as "no limit" or "no accounts".
	limit, err := seatLimit(ctx, tx)
	if err != nil || limit <= 0 {
		return err
	}
	count, err := activeUsers(ctx, tx)
	if err != nil {
		return err
	}
	if count >= limit {
		return fmt.Errorf("%d of %d seats used: %w", count, limit, ErrSeatLimit)
	}
	return nil
}

// CheckItem is one line of the Security Center checklist.
type CheckItem struct {
	ID     string // stable name, e.g. "seats"
	Title  string
	Status string // "ok", "attention" or "info"
	Detail string
	Fix    string // the screen that fixes it: "users", "backups", "training", "emergency", "access-review"
}

// Attention reports whether any item needs attention.
func Attention(items []CheckItem) bool {
	for _, i := range items {
		if i.Status == "attention" {
			return true
		}
	}
	return false
}

// SecurityReport builds the Security Center checklist (admins).
func (s *Session) SecurityReport(ctx context.Context) ([]CheckItem, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	now := s.v.now()
	var items []CheckItem
	add := func(id, title string, attention bool, detail, fix string) {
		st := "ok"
		if attention {
			st = "attention"
		}
		items = append(items, CheckItem{id, title, st, detail, fix})
	}
	limit, err := s.SeatLimit(ctx)
	if err != nil {
		return nil, err
	}
	seatDetail := fmt.Sprintf("%d account(s), no seat limit set", len(users))
	if limit > 0 {
		seatDetail = fmt.Sprintf("%d of %d seats used", len(users), limit)
	}
	add("seats", "Accounts and seat limit", limit > 0 && len(users) > limit, seatDetail, "users")

	var unused, locked []string
	for _, u := range users {
		last := u.LastSignIn
		if last.IsZero() {
			last = u.Created
		}
		if now.Sub(last) > unusedAfter {
			unused = append(unused, u.Name)
		}
		if u.LockedOut {
			locked = append(locked, u.Name)
		}
	}
	add("unused", "Accounts unused for 90 days", len(unused) > 0, listOr(unused, "none"), "users")
	add("locked", "Locked-out accounts", len(locked) > 0, listOr(locked, "none"), "users")

	s.mu.Lock()
	failed, err := scalar[int](ctx, s.general, `SELECT count(*) FROM audit WHERE action IN ('signin-failed', 'account-locked-out') AND at > ?`, now.Add(-24*time.Hour).UnixNano())
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	add("failed-signins", "Failed sign-ins in the last 24 hours", failed >= failedBurst, fmt.Sprintf("%d", failed), "audit")
	auditProblems, err := s.AuditProblems(ctx)
	if err != nil {
		return nil, err
	}
	var ap []string
	for _, p := range auditProblems {
		ap = append(ap, p.String())
	}
	add("audit-witnessed", "Audit logs that differ from what other computers saw", len(ap) > 0, listOr(ap, "none"), "audit")

	bs, err := s.BackupStatus(ctx)
	if err != nil {
		return nil, err
	}
	backupDetail := "last good backup " + bs.LastGood.Local().Format("2006-01-02 15:04")
	if bs.Warning != "" {
		backupDetail = bs.Warning
	}
	add("backup", "Backups", bs.Warning != "", backupDetail, "backups")

	training, err := s.TrainingStatus(ctx)
	if err != nil {
		return nil, err
	}
	var overdue, untrained []string
	for _, t := range training {
		if t.Overdue > 0 {
			overdue = append(overdue, fmt.Sprintf("%s (%d)", t.User.Name, t.Overdue))
			continue
		}
		for _, l := range t.Lessons {
			if l.Passed.IsZero() {
				// Within their first weeks: not overdue, not trained either.
				untrained = append(untrained, fmt.Sprintf("%s (due %s)", t.User.Name, l.Due.Format("2 Jan 2006")))
				break
			}
		}
	}
	trainingDetail := listOr(overdue, "everyone is up to date")
	if len(overdue) == 0 && len(untrained) > 0 {
		trainingDetail = "none overdue; not trained yet: " + strings.Join(untrained, ", ")
	}
	add("training", "Security training overdue", len(overdue) > 0, trainingDetail, "training")

	devs, err := s.Devices(ctx)
	if err != nil {
		return nil, err
	}
	var quiet, revoked, halted []string
	for _, d := range devs {
		name := d.Name
		if name == "" {
			name = shortID(d.ID)
		}
		if d.Halted && d.Revoked.IsZero() {
			halted = append(halted, fmt.Sprintf("%s (batch %d)", name, d.HaltedAt))
		}
		switch {
		case !d.Revoked.IsZero():
			revoked = append(revoked, name)
		case d.This:
		case len(devs) > 1 && (d.LastSeen.IsZero() && now.Sub(d.Added) > deviceQuiet || !d.LastSeen.IsZero() && now.Sub(d.LastSeen) > deviceQuiet):
			quiet = append(quiet, name)
		}
	}
	add("devices-halted", "Computers whose changes stop at a refused batch", len(halted) > 0, listOr(halted, "none"), "devices")
	add("devices-quiet", "Computers not heard from for 14 days", len(quiet) > 0, listOr(quiet, "none"), "devices")
	items = append(items, CheckItem{"devices-revoked", "Revoked computers", "info", listOr(revoked, "none"), "devices"})
	items = append(items, CheckItem{"page-crypto", "Encryption of the databases on this computer", "info", PageCryptoDetail(), ""})

	pending, err := s.EmergencyAccesses(ctx, true)
	if err != nil {
		return nil, err
	}
	add("emergency", "Emergency accesses awaiting review", len(pending) > 0, fmt.Sprintf("%d", len(pending)), "emergency")

	s.mu.Lock()
	reviewed, err := readSetting(ctx, s.general, settingAccessReview)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	last, _ := strconv.ParseInt(reviewed, 10, 64)
	reviewDetail := "never done"
	if last > 0 {
		reviewDetail = "last " + time.Unix(last, 0).Local().Format("2006-01-02")
	}
	add("access-review", "Quarterly access review", last == 0 || now.Sub(time.Unix(last, 0)) > reviewEvery, reviewDetail, "access-review")
	return items, nil
}

func listOr(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ", ")
}

// AccessRow is one line of the access review.
type AccessRow struct {
	Name       string
	Role       Role
	Created    time.Time
	LastSignIn time.Time
	LastDevice string
	Status     string
}

// AccessReview lists every user with role, last sign-in and device (admins).
func (s *Session) AccessReview(ctx context.Context) ([]AccessRow, error) {
	users, err := s.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AccessRow
	for _, u := range users {
		dev, err := scalar[string](ctx, s.general, `SELECT last_device FROM users WHERE id = ?`, u.ID)
		if err != nil {
			return nil, err
		}
		status := "active"
		switch {
		case u.LockedOut:
			status = "locked out"
		case u.TOTPReset:
			status = "authenticator reset pending"
		}
		out = append(out, AccessRow{u.Name, u.Role, u.Created, u.LastSignIn, dev, status})
	}
	return out, nil
}

// ExportAccessReview writes the access review as CSV, encrypted with age
// to a passphrase (or, when passphrase is empty, to the age recipient), so
// any age tool opens it. It records the review and audits the export.
func (s *Session) ExportAccessReview(ctx context.Context, w io.Writer, passphrase, recipient string) error {
	rows, err := s.AccessReview(ctx)
	if err != nil {
		return err
	}
	var rcpt age.Recipient
	switch {
	case passphrase != "":
		if err := s.v.CheckPassphrase(passphrase, s.User().Name, s.Practice()); err != nil {
			return fmt.Errorf("the export passphrase: %w", err)
		}
		sr, err := age.NewScryptRecipient(passphrase)
		if err != nil {
			return err
		}
		rcpt = sr
	case recipient != "":
		xr, err := age.ParseX25519Recipient(strings.TrimSpace(recipient))
		if err != nil {
			return fmt.Errorf("age recipient %q: %v: %w", recipient, err, ErrUsage)
		}
		rcpt = xr
	default:
		return fmt.Errorf("an access review export needs a passphrase or an age recipient: %w", ErrUsage)
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"name", "role", "created", "last_sign_in", "last_device", "status"})
	for _, r := range rows {
		last := ""
		if !r.LastSignIn.IsZero() {
			last = r.LastSignIn.UTC().Format(time.RFC3339)
		}
		cw.Write([]string{r.Name, string(r.Role), r.Created.UTC().Format(time.RFC3339), last, r.LastDevice, r.Status})
	}
	cw.Flush()
	enc, err := age.Encrypt(w, rcpt)
	if err != nil {
		return err
	}
	if _, err := enc.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, settingAccessReview, strconv.FormatInt(now.Unix(), 10)); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "export", "access review", fmt.Sprintf("%d users, age-encrypted", len(rows)))
	})
}

// Reminders are what the app shows after sign-in without blocking work:
// the user's overdue lessons, and for admins emergency accesses to review
// and anything else the Security Center flags.
type Reminders struct {
	OverdueLessons []string
	PendingReviews int
	Attention      []string
	// DismissedToday: the person dismissed the reminders on this
	// computer today; the window does not show them again until tomorrow.
	DismissedToday bool
}

// remindersDismissed names the local setting that holds the day a person
// last dismissed the reminders on this computer.
func remindersDismissed(userID string) string { return "reminders_dismissed:" + userID }

// DismissReminders hides the after-sign-in reminders for the rest of
// the day, for the signed-in person on this computer.
func (s *Session) DismissReminders(ctx context.Context) error {
	if err := s.require(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		return setSetting(ctx, tx, remindersDismissed(s.user.ID), s.v.now().Local().Format("2006-01-02"))
	})
}

// Reminders collects the after-sign-in reminders.
func (s *Session) Reminders(ctx context.Context) (Reminders, error) {
	var r Reminders
	if err := s.require(); err != nil {
		return r, err
	}
	s.mu.Lock()
	dismissed, err := readSetting(ctx, s.general, remindersDismissed(s.user.ID))
	s.mu.Unlock()
	if err != nil {
		return r, err
	}
	r.DismissedToday = dismissed == s.v.now().Local().Format("2006-01-02")
	ts, err := s.TrainingStatus(ctx)
	if err != nil {
		return r, err
	}
	for _, t := range ts {
		if t.User.ID != s.user.ID {
			continue
		}
		for _, l := range t.Lessons {
			if l.Overdue {
				r.OverdueLessons = append(r.OverdueLessons, l.Title)
			}
		}
	}
	if s.User().Role == Admin {
		items, err := s.SecurityReport(ctx)
		if err != nil {
			return r, err
		}
		for _, i := range items {
			if i.Status == "attention" {
				r.Attention = append(r.Attention, i.Title+": "+i.Detail)
			}
			if i.ID == "emergency" {
				r.PendingReviews, _ = strconv.Atoi(i.Detail)
			}
		}
	}
	return r, nil
}

// CryptoProvider names the crypto that encrypts the databases' pages on
// this computer: "clinicvault-aesni" (the CPU's AES instructions) or
// "libtomcrypt" (SQLCipher's bundled C, on CPUs without them).
func CryptoProvider() string { return store.CryptoProvider() }

// PageCryptoDetail says in words how the databases are encrypted here.
func PageCryptoDetail() string {
	if store.CryptoProvider() == "libtomcrypt" {
		return "AES-256 with HMAC-SHA512 (SQLCipher 4.4.2), in C: this computer's processor has no AES instructions ClinicVault uses (libtomcrypt)"
	}
	return "AES-256 with HMAC-SHA512 (SQLCipher 4.4.2), AES on the processor's own instructions (clinicvault-aesni)"
}
