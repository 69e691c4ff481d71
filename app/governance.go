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

func (s *Session) settingLocked(ctx context.Context, q querier, name string) string {
	var v string
	q.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v
}

// SeatLimit returns the practice's seat limit (0: none).
func (s *Session) SeatLimit(ctx context.Context) (int, error) {
	if err := s.require(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := strconv.Atoi(s.settingLocked(ctx, s.general, settingSeatLimit))
	return n, nil
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
		var count int
		tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE removed_at IS NULL`).Scan(&count)
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
	limit, _ := strconv.Atoi(s.settingLocked(ctx, tx, settingSeatLimit))
	if limit <= 0 {
		return nil
	}
	var count int
	tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE removed_at IS NULL`).Scan(&count)
	if count >= limit {
		return fmt.Errorf("%d of %d seats used: %w", count, limit, ErrSeatLimit)
	}
	return nil
}

// RestrictChart limits a patient's clinical chart to the named clinicians
// (the clinician restricting it is always included). Clinicians and admins.
func (s *Session) RestrictChart(ctx context.Context, mrn string, clinicians []string) error {
	if err := s.requireClinical(); err != nil {
		return err
	}
	now := s.v.now()
	return s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		// Only a clinician named on an existing restriction (or an admin)
		// may change it: otherwise restricting would be a way around it.
		if allowed, restricted, err := chartAllowed(ctx, tx, p.ID, s.user.ID); err != nil {
			return err
		} else if restricted && !allowed && s.user.Role != Admin {
			return fmt.Errorf("only the clinicians named on this chart's restriction or an admin may change it: %w", ErrNotPermitted)
		}
		ids := map[string]string{s.user.ID: s.user.Name}
		for _, n := range clinicians {
			u, err := s.clinicianByName(ctx, tx, n)
			if err != nil {
				return err
			}
			ids[u.ID] = u.Name
		}
		if err := s.archiveRestriction(ctx, tx, p.ID); err != nil {
			return err
		}
		var names []string
		for id, name := range ids {
			rid := newID()
			if _, err := tx.ExecContext(ctx, `INSERT INTO chart_restrictions (id, patient_id, clinician_id, added_by, created_at) VALUES (?, ?, ?, ?, ?)`,
				rid, p.ID, id, s.user.ID, now.Unix()); err != nil {
				return err
			}
			if err := s.recordChanges(ctx, tx, "chart_restrictions", rid, map[string]any{"patient_id": p.ID, "clinician_id": id, "added_by": s.user.ID}); err != nil {
				return err
			}
			names = append(names, name)
		}
		return audit(ctx, tx, now, s.actor(), "chart-restricted", p.MRN, "to "+strings.Join(names, ", "))
	})
}

// UnrestrictChart lifts a chart's restriction (a clinician on its list, or an admin).
func (s *Session) UnrestrictChart(ctx context.Context, mrn string) error {
	if err := s.requireClinical(); err != nil {
		return err
	}
	now := s.v.now()
	return s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		allowed, restricted, err := chartAllowed(ctx, tx, p.ID, s.user.ID)
		if err != nil || !restricted {
			return err
		}
		if !allowed && s.user.Role != Admin {
			return fmt.Errorf("only the clinicians named on it or an admin may lift it: %w", ErrNotPermitted)
		}
		if err := s.archiveRestriction(ctx, tx, p.ID); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "chart-unrestricted", p.MRN, "")
	})
}

// archiveRestriction lifts a chart's current restriction rows, each as a
// change that reaches the other computers (a narrowed or lifted
// restriction must not stay wider elsewhere).
func (s *Session) archiveRestriction(ctx context.Context, tx *sql.Tx, patientID string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM chart_restrictions WHERE patient_id = ? AND archived = 0`, patientID)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE chart_restrictions SET archived = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "chart_restrictions", id, map[string]any{"archived": true}); err != nil {
			return err
		}
	}
	return nil
}

// chartAllowed reports whether a chart is restricted and whether user may open it.
func chartAllowed(ctx context.Context, q querier, patientID, userID string) (allowed, restricted bool, err error) {
	rows, err := q.QueryContext(ctx, `SELECT clinician_id FROM chart_restrictions WHERE patient_id = ? AND archived = 0`, patientID)
	if err != nil {
		return false, false, err
	}
	defer rows.Close()
	for rows.Next() {
		restricted = true
		var id string
		rows.Scan(&id)
		if id == userID {
			allowed = true
		}
	}
	return allowed || !restricted, restricted, rows.Err()
}

// OpenChartEmergency opens a restricted chart for a clinician not named on
// it (HIPAA's emergency access procedure): the reason is required, the
// access is audited and waits for an admin's review.
func (s *Session) OpenChartEmergency(ctx context.Context, mrn, reason string) (*Chart, error) {
	if err := s.requireClinical(); err != nil {
		return nil, err
	}
	reason, err := cleanText("reason", reason, 500, false)
	if err != nil {
		return nil, err
	}
	if len([]rune(reason)) < 10 {
		return nil, invalid("give the reason for emergency access in a sentence (at least 10 characters)")
	}
	now := s.v.now()
	err = s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		id := newID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO emergency_access (id, patient_id, user_id, reason, at) VALUES (?, ?, ?, ?, ?)`, id, p.ID, s.user.ID, reason, now.Unix()); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "emergency_access", id, map[string]any{"patient_id": p.ID, "user_id": s.user.ID, "reason": reason, "at": now.Unix()}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "emergency-access", p.MRN, reason)
	})
	if err != nil {
		return nil, err
	}
	return s.openChart(ctx, mrn, true)
}

// EmergencyAccess is one use of emergency access.
type EmergencyAccess struct {
	ID         string
	PatientMRN string
	Patient    string
	User       string
	Reason     string
	At         time.Time
	ReviewedBy string
	ReviewedAt time.Time
	Note       string
}

// EmergencyAccesses lists emergency accesses, those awaiting review first (admins).
func (s *Session) EmergencyAccesses(ctx context.Context, pendingOnly bool) ([]EmergencyAccess, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := `SELECT e.id, p.mrn, p.family || ', ' || p.given, coalesce(u.name, '?'), e.reason, e.at, coalesce(r.name, ''), e.reviewed_at, e.review_note
		FROM emergency_access e JOIN patients p ON p.id = e.patient_id LEFT JOIN users u ON u.id = e.user_id LEFT JOIN users r ON r.id = e.reviewed_by`
	if pendingOnly {
		q += ` WHERE e.reviewed_at IS NULL`
	}
	rows, err := s.general.QueryContext(ctx, q+` ORDER BY e.reviewed_at IS NOT NULL, e.at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EmergencyAccess
	for rows.Next() {
		var e EmergencyAccess
		var at int64
		var rev sql.NullInt64
		rows.Scan(&e.ID, &e.PatientMRN, &e.Patient, &e.User, &e.Reason, &at, &e.ReviewedBy, &rev, &e.Note)
		e.At = time.Unix(at, 0)
		if rev.Valid {
			e.ReviewedAt = time.Unix(rev.Int64, 0)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReviewEmergencyAccess marks an emergency access as reviewed (admins).
func (s *Session) ReviewEmergencyAccess(ctx context.Context, id, note string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	note, err := cleanText("review note", note, 500, false)
	if err != nil {
		return err
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE emergency_access SET reviewed_by = ?, reviewed_at = ?, review_note = ? WHERE id = ? AND reviewed_at IS NULL`,
			s.user.ID, now.Unix(), note, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("emergency access %s: %w", id, ErrNotFound)
		}
		if err := s.recordChanges(ctx, tx, "emergency_access", id, map[string]any{"reviewed_by": s.user.ID, "reviewed_at": now.Unix(), "review_note": note}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "emergency-access-reviewed", id, note)
	})
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
	limit, _ := s.SeatLimit(ctx)
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
	var failed int
	s.general.QueryRowContext(ctx, `SELECT count(*) FROM audit WHERE action IN ('signin-failed', 'account-locked-out') AND at > ?`, now.Add(-24*time.Hour).UnixNano()).Scan(&failed)
	s.mu.Unlock()
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

	pending, err := s.EmergencyAccesses(ctx, true)
	if err != nil {
		return nil, err
	}
	add("emergency", "Emergency accesses awaiting review", len(pending) > 0, fmt.Sprintf("%d", len(pending)), "emergency")

	s.mu.Lock()
	last, _ := strconv.ParseInt(s.settingLocked(ctx, s.general, settingAccessReview), 10, 64)
	s.mu.Unlock()
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
		var dev string
		s.general.QueryRowContext(ctx, `SELECT last_device FROM users WHERE id = ?`, u.ID).Scan(&dev)
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
	r.DismissedToday = s.settingLocked(ctx, s.general, remindersDismissed(s.user.ID)) == s.v.now().Local().Format("2006-01-02")
	s.mu.Unlock()
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
