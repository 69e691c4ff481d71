package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// The day book offers only people who see patients, shows overlaps
// before anything is saved, moves appointments across clinicians, asks
// why an appointment is cancelled, and undoes a check-in.
func TestDayBookOffersCliniciansAndChecksSlotsBeforeSaving(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(admin, "Dr Lee Park", Clinician, docPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	rita := f.mustSignIn("Rita Front", recPass)

	// The practice manager (an admin) is not offered until marked so.
	names, err := rita.Clinicians(ctx)
	if err != nil || !slices.Equal(names, []string{"Dr Lee Park", "Dr Omar Haddad"}) {
		t.Fatalf("bookable: %v, %v", names, err)
	}
	p, _, err := rita.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := rita.AddPatient(ctx, Patient{Given: "Bo", Family: "Chen", DOB: "1981-05-02"})
	if err != nil {
		t.Fatal(err)
	}
	nine := time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local)
	if _, _, err := rita.BookAppointment(ctx, p.MRN, nine, 15, "Maria Admin", ""); !errors.Is(err, ErrNotBookable) {
		t.Fatalf("booking the practice manager: %v", err)
	}
	if err := rita.SetBookable(ctx, "Maria Admin", true); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("a receptionist marked someone bookable: %v", err)
	}
	if err := admin.SetBookable(ctx, "Rita Front", true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a receptionist was made bookable: %v", err)
	}
	if err := admin.SetBookable(ctx, "Maria Admin", true); err != nil {
		t.Fatal(err)
	}
	if names, _ := rita.Clinicians(ctx); !slices.Contains(names, "Maria Admin") {
		t.Fatalf("marked, but not offered: %v", names)
	}
	if err := admin.SetBookable(ctx, "Dr Lee Park", false); err != nil {
		t.Fatal(err)
	}
	if names, _ := rita.Clinicians(ctx); slices.Contains(names, "Dr Lee Park") {
		t.Fatalf("unmarked, but still offered: %v", names)
	}
	if err := admin.SetBookable(ctx, "Dr Lee Park", true); err != nil {
		t.Fatal(err)
	}

	a, _, err := rita.BookAppointment(ctx, p.MRN, nine, 30, "Dr Omar Haddad", "review")
	if err != nil {
		t.Fatal(err)
	}
	// Before saving: the clinician's overlap, and the patient's own.
	before, _ := rita.Day(ctx, nine)
	w, err := rita.CheckSlot(ctx, Slot{MRN: q.MRN, Clinician: "Dr Omar Haddad", Start: nine.Add(15 * time.Minute), Minutes: 15})
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "overlaps Silva, Ana's appointment with Dr Omar Haddad at 09:00 (30 min)") {
		t.Fatalf("clinician overlap before saving: %q, %v", w, err)
	}
	w, err = rita.CheckSlot(ctx, Slot{MRN: p.MRN, Clinician: "Dr Lee Park", Start: nine, Minutes: 15})
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "Silva, Ana already has an appointment with Dr Omar Haddad at 09:00") {
		t.Fatalf("patient overlap before saving: %q, %v", w, err)
	}
	if w, err := rita.CheckSlot(ctx, Slot{MRN: q.MRN, Clinician: "Dr Omar Haddad", Start: nine.Add(30 * time.Minute), Minutes: 15}); err != nil || len(w) != 0 {
		t.Fatalf("a free slot: %q, %v", w, err)
	}
	if w, err := rita.CheckSlot(ctx, Slot{ExceptID: a.ID, MRN: p.MRN, Clinician: "Dr Omar Haddad", Start: nine.Add(15 * time.Minute), Minutes: 30}); err != nil || len(w) != 0 {
		t.Fatalf("moving an appointment over itself: %q, %v", w, err)
	}
	if _, err := rita.CheckSlot(ctx, Slot{Clinician: "Rita Front", Start: nine, Minutes: 15}); err == nil {
		t.Fatal("a receptionist's slot was checked as bookable")
	}
	if after, _ := rita.Day(ctx, nine); len(after) != len(before) {
		t.Fatal("checking a slot saved something")
	}

	// Moved to another clinician and time.
	if _, err := rita.MoveAppointment(ctx, a.ID, nine.Add(time.Hour), 20, "Dr Lee Park"); err != nil {
		t.Fatal(err)
	}
	moved, err := rita.AppointmentByID(ctx, a.ID)
	if err != nil || moved.ClinicianName != "Dr Lee Park" || !moved.Start.Equal(nine.Add(time.Hour)) || moved.Minutes != 20 {
		t.Fatalf("moved: %+v, %v", moved, err)
	}
	if _, err := rita.MoveAppointment(ctx, a.ID, nine, 20, "Rita Front"); err == nil {
		t.Fatal("moved to a receptionist")
	}

	// Undo a check-in.
	if err := rita.SetAppointmentStatus(ctx, a.ID, StatusArrived); err != nil {
		t.Fatal(err)
	}
	if err := rita.SetAppointmentStatus(ctx, a.ID, StatusBooked); err != nil {
		t.Fatal(err)
	}
	if x, _ := rita.AppointmentByID(ctx, a.ID); x.Status != StatusBooked {
		t.Fatalf("check-in not undone: %q", x.Status)
	}

	// Cancelling needs a reason, which is kept and shown.
	if err := rita.CancelAppointment(ctx, a.ID, "  "); !errors.Is(err, ErrCancelReason) {
		t.Fatalf("cancelled without a reason: %v", err)
	}
	if err := rita.CancelAppointment(ctx, a.ID, "Patient cancelled"); err != nil {
		t.Fatal(err)
	}
	if x, _ := rita.AppointmentByID(ctx, a.ID); x.Status != StatusCancelled || x.CancelReason != "Patient cancelled" {
		t.Fatalf("cancelled: %+v", x)
	}
	if err := rita.CancelAppointment(ctx, a.ID, "again"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cancelled twice: %v", err)
	}
	if _, err := rita.MoveAppointment(ctx, a.ID, nine, 15, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a cancelled appointment was moved: %v", err)
	}
	// A cancelled slot is free again.
	if w, _ := rita.CheckSlot(ctx, Slot{MRN: q.MRN, Clinician: "Dr Lee Park", Start: nine.Add(time.Hour), Minutes: 15}); len(w) != 0 {
		t.Fatalf("a cancelled appointment still takes its slot: %q", w)
	}

	entries, err := admin.AuditList(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range entries {
		seen = append(seen, e.Action+" "+e.Detail)
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{"user-bookable sees patients", "appointment-moved from 2026-03-02 09:00 to 2026-03-02 10:00, from Dr Omar Haddad to Dr Lee Park",
		"appointment-check-in-undone", "appointment-cancelled 2026-03-02 10:00: Patient cancelled"} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
}

// Who sees patients, a move to another clinician and the cancellation
// reason reach the other computers.
func TestDayBookChangesSync(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetBookable(ctx, "Maria Admin", true); err != nil {
		t.Fatal(err)
	}
	nine := time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local)
	ap, _, err := a.BookAppointment(ctx, p.MRN, nine, 15, "Dr Omar Haddad", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.MoveAppointment(ctx, ap.ID, nine, 15, "Maria Admin"); err != nil {
		t.Fatal(err)
	}
	if err := a.CancelAppointment(ctx, ap.ID, "Clinician unavailable"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if names, _ := b.Clinicians(ctx); !slices.Equal(names, []string{"Dr Omar Haddad", "Maria Admin"}) {
		t.Errorf("the other computer offers %v", names)
	}
	got, err := b.AppointmentByID(ctx, ap.ID)
	if err != nil || got.ClinicianName != "Maria Admin" || got.Status != StatusCancelled || got.CancelReason != "Clinician unavailable" {
		t.Fatalf("on the other computer: %+v, %v", got, err)
	}
}

// A note written during a visit is linked to that appointment; one
// written on another day is not.
func TestNoteDuringAVisitIsLinkedToItsAppointment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(admin, "Dr Lee Park", Clinician, docPass)
	doc := f.mustSignIn("Dr Omar Haddad", docPass)
	p, _, err := doc.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	now := f.clk.Now()
	// Booked with Dr Park earlier today, and with Dr Haddad now; Dr
	// Haddad's is the one under way.
	other, _, err := doc.BookAppointment(ctx, p.MRN, now.Add(-3*time.Hour), 15, "Dr Lee Park", "")
	if err != nil {
		t.Fatal(err)
	}
	visit, _, err := doc.BookAppointment(ctx, p.MRN, now.Add(-5*time.Minute), 20, "Dr Omar Haddad", "review")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.SetAppointmentStatus(ctx, other.ID, StatusDone); err != nil {
		t.Fatal(err)
	}
	if err := doc.SetAppointmentStatus(ctx, visit.ID, StatusInRoom); err != nil {
		t.Fatal(err)
	}
	e, err := doc.AddEncounter(ctx, p.MRN, SOAP{Subjective: "review"})
	if err != nil {
		t.Fatal(err)
	}
	if e.AppointmentID != visit.ID {
		t.Fatalf("the note is linked to %q, want the visit %q", e.AppointmentID, visit.ID)
	}
	ch, err := doc.OpenChart(ctx, p.MRN)
	if err != nil || len(ch.Encounters) != 1 || ch.Encounters[0].AppointmentID != visit.ID {
		t.Fatalf("the chart does not keep the link: %+v, %v", ch.Encounters, err)
	}
	// The next day, with nothing booked: no visit.
	f.clk.Advance(24 * time.Hour)
	doc2 := f.mustSignIn("Dr Omar Haddad", docPass)
	e2, err := doc2.AddEncounter(ctx, p.MRN, SOAP{Subjective: "phone call"})
	if err != nil || e2.AppointmentID != "" {
		t.Fatalf("a note outside a visit is linked to %q (%v)", e2.AppointmentID, err)
	}
}
