package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Names from many cultures, so that search, sorting and layout meet real
// variety: accents, apostrophes, hyphens, particles, CJK and Arabic script.
var demoNames = []struct{ given, family []string }{
	{[]string{"José", "María", "Lucía", "Álvaro", "Inés"}, []string{"Núñez", "García", "Fernández", "López", "Muñoz"}},
	{[]string{"Seán", "Siobhán", "Aoife", "Ciarán"}, []string{"O'Brien", "Ó Súilleabháin", "McCarthy", "Ní Bhriain"}},
	{[]string{"Oliver", "Amelia", "Harry", "Isla", "George"}, []string{"Smith", "Jones", "Taylor", "Brown-Williams", "Wilson"}},
	{[]string{"Chiamaka", "Oluwaseun", "Ngozi", "Emeka"}, []string{"Okafor", "Adeyemi", "Nwosu", "Okonkwo"}},
	{[]string{"Wei", "Xiu Ying", "Jun", "Mei"}, []string{"Wang", "Li", "Zhang", "Chen"}},
	{[]string{"太郎", "花子", "翔太"}, []string{"山田", "佐藤", "鈴木"}},
	{[]string{"Aarav", "Priya", "Ishaan", "Ananya"}, []string{"Patel", "Sharma", "Iyer", "Reddy"}},
	{[]string{"Mohammed", "Fatima", "Omar", "Layla"}, []string{"Al-Sayed", "Haddad", "Khalil", "محمد"}},
	{[]string{"Jürgen", "Zoë", "Björn", "Anneliese"}, []string{"Müller", "Schäfer", "van der Berg", "Østergaard"}},
	{[]string{"Nguyễn", "Thảo", "Minh"}, []string{"Trần", "Phạm", "Lê"}},
	{[]string{"Aiyana", "Kai", "Noa"}, []string{"Redcloud", "Kealoha", "Begay"}},
	{[]string{"Krzysztof", "Małgorzata", "Łukasz"}, []string{"Wiśniewski", "Dąbrowska", "Kowalczyk"}},
}

var demoReasons = []string{"Check-up", "Follow-up", "Blood pressure review", "Cough", "Vaccination", "Diabetes review", "Back pain", "Results"}

// DemoPatients returns n deterministic synthetic patients.
func DemoPatients(n int, seed uint64, now time.Time) []Patient {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// The fields added later draw from their own source, so that the
	// names, dates and phones of a seed stay what they were.
	r2 := rand.New(rand.NewPCG(seed^0x6a09e667f3bcc909, seed+0x3c6ef372fe94f82b))
	out := make([]Patient, n)
	for i := range out {
		c := demoNames[r.IntN(len(demoNames))]
		dob := now.AddDate(-r.IntN(95), -r.IntN(12), -r.IntN(28)-1)
		sex := []string{"female", "male", "other", "unknown"}[r.IntN(20)%4]
		out[i] = Patient{
			Given:   c.given[r.IntN(len(c.given))],
			Family:  c.family[r.IntN(len(c.family))],
			DOB:     dob.Format("2006-01-02"),
			Sex:     sex,
			Phone:   fmt.Sprintf("+44 20 %04d %04d", r.IntN(10000), r.IntN(10000)),
			Email:   fmt.Sprintf("patient%d@example.org", i+1),
			Address: fmt.Sprintf("%d High Street, Riverside", r.IntN(200)+1),
		}
		p := &out[i]
		p.Postcode = fmt.Sprintf("RV%d %d%c%c", r2.IntN(9)+1, r2.IntN(10), 'A'+rune(r2.IntN(26)), 'A'+rune(r2.IntN(26)))
		p.NationalNumber = demoNHSNumber(r2)
		p.SMSConsent = r2.IntN(10) < 6
		if r2.IntN(3) == 0 {
			p.Phone2 = fmt.Sprintf("+44 1632 %06d", r2.IntN(1000000)) // 01632: numbers reserved for drama
		}
	}
	return out
}

// demoNHSNumber is a number of the form of an NHS number (ten digits,
// the last a modulus 11 check digit) in the 999 range, which the NHS
// never issues to a person.
func demoNHSNumber(r *rand.Rand) string {
	for {
		d := [10]int{9, 9, 9}
		for i := 3; i < 9; i++ {
			d[i] = r.IntN(10)
		}
		sum := 0
		for i := 0; i < 9; i++ {
			sum += d[i] * (10 - i)
		}
		check := 11 - sum%11
		if check == 10 {
			continue // no valid number with these digits
		}
		if check == 11 {
			check = 0
		}
		d[9] = check
		return fmt.Sprintf("%d%d%d %d%d%d %d%d%d%d", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9])
	}
}

// Demo fills the vault with n deterministic synthetic patients, today's
// appointments for every clinician, and (for a clinical session) charts for
// up to 100 patients. It is for training and trying the app, never for a
// vault with real patients.
func (s *Session) Demo(ctx context.Context, n int, seed uint64, progress func(done, total int)) error {
	if n < 1 || n > 1_000_000 {
		return invalid("demo takes 1 to 1000000 patients, not %d", n)
	}
	now := s.v.now()
	ps := DemoPatients(n, seed, now)
	if err := s.AddPatients(ctx, ps, progress); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed+1, seed))
	clinicians, err := s.Clinicians(ctx)
	if err != nil {
		return err
	}
	day := now.Local()
	open := time.Date(day.Year(), day.Month(), day.Day(), 8, 30, 0, 0, time.Local)
	for _, c := range clinicians {
		at := open
		for slot := 0; slot < 14 && at.Hour() < 17; slot++ {
			minutes := []int{15, 15, 30, 20}[r.IntN(4)]
			p := ps[r.IntN(len(ps))]
			a, _, err := s.BookAppointment(ctx, p.MRN, at, minutes, c, demoReasons[r.IntN(len(demoReasons))])
			if err != nil {
				return err
			}
			if at.Before(now) {
				st := []string{StatusDone, StatusDone, StatusDone, StatusNoShow}[r.IntN(4)]
				if err := s.SetAppointmentStatus(ctx, a.ID, st); err != nil {
					return err
				}
			}
			at = at.Add(time.Duration(minutes+[]int{0, 0, 5, 10}[r.IntN(4)]) * time.Minute)
		}
	}
	if !s.HasClinical() {
		return nil
	}
	for i := 0; i < len(ps) && i < 100; i++ {
		mrn := ps[i].MRN
		for k := 0; k < 5; k++ {
			sys, dia, pulse := 110+r.IntN(50), 65+r.IntN(30), 55+r.IntN(40)
			w := 50 + r.Float64()*60
			v := Vitals{TakenAt: now.AddDate(0, -6+k, 0), Systolic: &sys, Diastolic: &dia, Pulse: &pulse, WeightKg: &w}
			if err := s.AddVitals(ctx, mrn, v); err != nil {
				return err
			}
		}
		e, err := s.AddEncounter(ctx, mrn, SOAP{Subjective: "Routine review; no new complaints.", Objective: "Well, alert.",
			Assessment: "Stable.", Plan: "Continue current treatment; review in 6 months."})
		if err != nil {
			return err
		}
		if err := s.SignEncounter(ctx, mrn, e.ID); err != nil {
			return err
		}
		if r.IntN(3) == 0 {
			if err := s.AddAllergy(ctx, mrn, Allergy{Substance: []string{"Penicillin", "Peanuts", "Latex", "Aspirin"}[r.IntN(4)], Reaction: "rash", Severity: "moderate"}); err != nil {
				return err
			}
		}
		if r.IntN(2) == 0 {
			if err := s.AddProblem(ctx, mrn, Problem{Description: "Essential hypertension", ICD10: "I10", Onset: "2019-03-01"}); err != nil {
				return err
			}
			if err := s.AddMedication(ctx, mrn, Medication{Name: "Amlodipine", Dose: "5 mg", Route: "oral", Frequency: "once daily", Start: "2019-03-01"}); err != nil {
				return err
			}
		}
	}
	return nil
}
