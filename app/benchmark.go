package app

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinicvault/clinicvault/store"
	"github.com/xuri/excelize/v2"
)

// Figure is one benchmark result, printed as "name value unit".
type Figure struct {
	Name  string
	Value float64
	Unit  string
}

func (f Figure) String() string {
	return fmt.Sprintf("%s %s %s", f.Name, strconv.FormatFloat(f.Value, 'f', -1, 64), f.Unit)
}

// benchQueries are what a receptionist types: name prefixes, accents
// left out, a date of birth, phone digits.
var benchQueries = []string{"nun", "jose", "smith", "garc", "o'b", "wang li", "muller", "patel", "okafor", "1980", "7946", "maria lopez", "ana", "ke", "zh"}

// RecordsBenchmark measures, on SQLCipher and on the same engine without a
// key, in one run: bulk insert of n patients (rows/s), search at n
// patients (ms for the first page), opening a chart with 50 encounters
// (ms), and resident memory. Each figure is sent to out as it is known.
// dir must be an empty scratch folder; it is left holding only benchmark
// vaults of synthetic data.
func RecordsBenchmark(ctx context.Context, dir string, n int, now time.Time, out func(Figure)) error {
	results := map[string]map[bool]float64{}
	put := func(name string, enc bool, v float64, unit string) {
		if results[name] == nil {
			results[name] = map[bool]float64{}
		}
		results[name][enc] = v
		suffix := "plain"
		if enc {
			suffix = "encrypted"
		}
		out(Figure{name + "_" + suffix, round(v), unit})
	}
	units := map[string]string{"insert_patients": "rows/s", "search_median": "ms", "search_p95": "ms", "open_chart_50_encounters": "ms"}
	// Both vaults are filled first, then searched and opened turn about,
	// so that a busy spell of the machine weighs on both alike.
	sessions := map[bool]*Session{}
	mrns := map[bool]string{}
	defer func() {
		for _, s := range sessions {
			s.Lock(ctx)
		}
	}()
	for _, enc := range []bool{true, false} {
		sub := filepath.Join(dir, map[bool]string{true: "encrypted", false: "plain"}[enc])
		s, err := benchSession(ctx, sub, enc, now)
		if err != nil {
			return err
		}
		sessions[enc] = s
		ps := DemoPatients(n, 42, s.v.now())
		start := time.Now()
		if err := s.AddPatients(ctx, ps, nil); err != nil {
			return err
		}
		put("insert_patients", enc, float64(n)/time.Since(start).Seconds(), "rows/s")
		s.waitBackground() // its checkpoint, before the other vault is filled
		mrns[enc] = ps[0].MRN
		ps = nil // the benchmark's own copy is not the app's memory
		for i := 0; i < 50; i++ {
			if _, err := s.AddEncounter(ctx, mrns[enc], SOAP{Subjective: "Follow-up visit " + strconv.Itoa(i), Objective: "Stable.",
				Assessment: "Hypertension, controlled.", Plan: strings.Repeat("Continue medication; review. ", 10)}); err != nil {
				return err
			}
		}
	}
	times := map[bool][]float64{}
	for round := 0; round < 5; round++ {
		for _, q := range benchQueries {
			for _, enc := range []bool{true, false} {
				t0 := time.Now()
				if _, err := sessions[enc].SearchPatients(ctx, q, 50); err != nil {
					return err
				}
				times[enc] = append(times[enc], float64(time.Since(t0).Microseconds())/1000)
			}
		}
	}
	for _, enc := range []bool{true, false} {
		sort.Float64s(times[enc])
		put("search_median", enc, times[enc][len(times[enc])/2], "ms")
		put("search_p95", enc, times[enc][len(times[enc])*95/100], "ms")
	}
	const opens = 20
	chart := map[bool]time.Duration{}
	for i := 0; i < opens; i++ {
		for _, enc := range []bool{true, false} {
			t0 := time.Now()
			if _, err := sessions[enc].OpenChart(ctx, mrns[enc]); err != nil {
				return err
			}
			chart[enc] += time.Since(t0)
		}
	}
	for _, enc := range []bool{true, false} {
		put("open_chart_50_encounters", enc, float64(chart[enc].Microseconds())/1000/opens, "ms")
	}
	// Resident memory with the encrypted vault of n patients open, after
	// its searches and charts: the plain vault closed and its memory
	// returned, live memory only (garbage collected and handed back, as
	// the Go runtime does by itself within minutes).
	sessions[false].Lock(ctx)
	delete(sessions, false)
	debug.FreeOSMemory()
	store.TrimMemory()
	if rss, ok := residentMB(); ok {
		out(Figure{fmt.Sprintf("resident_memory_%d_patients", n), round(rss), "MB"})
	}
	// Changing a database key (a departure): the encrypted vault's
	// general.db, n patients, copied under a new key and swapped in.
	if s := sessions[true]; s != nil {
		s.mu.Lock()
		start := time.Now()
		ndb, err := store.Rekey(ctx, s.general, store.NewKey(), nil)
		elapsed := time.Since(start)
		if err == nil {
			s.general = ndb
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		out(Figure{fmt.Sprintf("rekey_general_%d_patients_encrypted", n), round(float64(elapsed.Microseconds()) / 1000), "ms"})
	}
	for _, name := range []string{"insert_patients", "search_median", "search_p95", "open_chart_50_encounters"} {
		r := results[name]
		if r[false] > 0 {
			ratio := r[true] / r[false]
			if units[name] == "rows/s" {
				ratio = r[false] / r[true] // time ratio: encrypted costs this many times plain
			}
			out(Figure{name + "_encrypted_vs_plain", round(ratio), "x"})
		}
	}
	return nil
}

// ImportBenchmark measures importing a sheet of n synthetic patients, as
// CSV (dates typed as text) and as XLSX (dates stored as Excel date
// numbers), into an encrypted vault and into one on the same engine
// without a key: rows/s from choosing the file to the committed import
// (reading, column mapping, validation, duplicate checks, writing).
// dir must be an empty scratch folder; the sheets are synthetic. now is
// the clock the synthetic birth dates and the vaults are set to.
func ImportBenchmark(ctx context.Context, dir string, n int, now time.Time, out func(Figure)) error {
	csvPath, xlsxPath, err := writeBenchSheets(dir, n, now)
	if err != nil {
		return err
	}
	for _, sheet := range []struct{ name, path string }{{"csv", csvPath}, {"xlsx", xlsxPath}} {
		rates := map[bool]float64{}
		for _, enc := range []bool{true, false} {
			sub := filepath.Join(dir, sheet.name+map[bool]string{true: "-encrypted", false: "-plain"}[enc])
			s, err := benchSession(ctx, sub, enc, now)
			if err != nil {
				return err
			}
			start := time.Now()
			plan, err := s.PlanImport(ctx, sheet.path)
			if err == nil {
				_, err = s.Import(ctx, plan, false, nil)
			}
			elapsed := time.Since(start)
			s.Lock(ctx)
			if err != nil {
				return fmt.Errorf("%s import: %w", sheet.name, err)
			}
			rates[enc] = float64(n) / elapsed.Seconds()
			out(Figure{fmt.Sprintf("import_%s_%s", sheet.name, map[bool]string{true: "encrypted", false: "plain"}[enc]), round(rates[enc]), "rows/s"})
		}
		out(Figure{"import_" + sheet.name + "_encrypted_vs_plain", round(rates[false] / rates[true]), "x"})
	}
	return nil
}

// writeBenchSheets writes n synthetic patients as a CSV and an XLSX sheet
// with the headers practices use.
func writeBenchSheets(dir string, n int, now time.Time) (csvPath, xlsxPath string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	ps := DemoPatients(n, 3, now)
	// A real sheet lists each person once: synthetic names and birthdays
	// collide now and then, so move a repeated birthday back a day.
	seen := make(map[string]bool, n)
	for i := range ps {
		for {
			key := ps[i].Family + "\x00" + ps[i].Given + "\x00" + ps[i].DOB
			if !seen[key] {
				seen[key] = true
				break
			}
			d, _ := time.Parse("2006-01-02", ps[i].DOB)
			ps[i].DOB = d.AddDate(0, 0, -1).Format("2006-01-02")
		}
	}
	header := []string{"Last Name", "First Name", "Date of Birth", "Sex", "Mobile", "E-mail", "Address"}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	w.Write(header)
	for _, p := range ps {
		w.Write([]string{p.Family, p.Given, p.DOB, p.Sex, p.Phone, p.Email, p.Address})
	}
	w.Flush()
	csvPath = filepath.Join(dir, "patients.csv")
	if err := os.WriteFile(csvPath, []byte(sb.String()), 0o600); err != nil {
		return "", "", err
	}
	x := excelize.NewFile()
	defer x.Close()
	sw, err := x.NewStreamWriter("Sheet1")
	if err != nil {
		return "", "", err
	}
	row := make([]any, len(header))
	for i, h := range header {
		row[i] = h
	}
	if err := sw.SetRow("A1", row); err != nil {
		return "", "", err
	}
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	for i, p := range ps {
		dob, _ := time.Parse("2006-01-02", p.DOB)
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{p.Family, p.Given, int(dob.Sub(epoch).Hours() / 24), p.Sex, p.Phone, p.Email, p.Address}); err != nil {
			return "", "", err
		}
	}
	if err := sw.Flush(); err != nil {
		return "", "", err
	}
	xlsxPath = filepath.Join(dir, "patients.xlsx")
	return csvPath, xlsxPath, x.SaveAs(xlsxPath)
}

func round(v float64) float64 {
	switch {
	case v >= 100:
		return float64(int64(v + 0.5))
	case v >= 1:
		return float64(int64(v*100+0.5)) / 100
	}
	return float64(int64(v*10000+0.5)) / 10000
}

// benchSession creates a benchmark vault in dir and signs its admin in.
func benchSession(ctx context.Context, dir string, encrypted bool, now time.Time) (*Session, error) {
	var mu sync.Mutex
	v := NewBenchmarkVault(dir, encrypted)
	v.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	enr, err := NewEnrollment("Benchmark Practice", "Bench Admin")
	if err != nil {
		return nil, err
	}
	const pass = "violet tugboat harmonica spreadsheet"
	if _, err := v.Create(ctx, "Benchmark Practice", "Bench Admin", pass, enr); err != nil {
		return nil, err
	}
	mu.Lock()
	now = now.Add(totpPeriod * time.Second)
	code := totpCode(enr.secret, now.Unix()/totpPeriod, totpDigits)
	mu.Unlock()
	return v.SignIn(ctx, "Bench Admin", pass, code)
}

// residentMB reads this process's resident set size (Linux); elsewhere it
// reports the Go runtime's view of memory obtained from the system.
func residentMB() (float64, bool) {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					kb, _ := strconv.ParseFloat(f[1], 64)
					return kb / 1024, true
				}
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.Sys) / (1 << 20), true
}

// SignInRefusalBenchmark times n refused sign-ins of each kind as name on
// v, a throw-away benchmark vault: with a wrong passphrase, and with the
// right passphrase and a wrong code. code returns the current code (the
// caller moves v's clock on a step first). Between tries it forgets the
// failures, which only a benchmark may do: throttling would answer the
// next try at once. A refusal must take as long whichever factor was
// wrong.
func SignInRefusalBenchmark(ctx context.Context, v *Vault, name, pass string, n int, code func() (string, error)) (wrongPass, wrongCode time.Duration, err error) {
	for i := 0; i < n; i++ {
		for _, wrongPassphrase := range []bool{true, false} {
			c, err := code()
			if err != nil {
				return 0, 0, err
			}
			p := pass
			if wrongPassphrase {
				p = "not the passphrase at all"
			} else {
				c = fmt.Sprintf("%06d", (atoiOr0(c)+1)%1_000_000)
			}
			start := time.Now()
			if s, err := v.SignIn(ctx, name, p, c); err == nil {
				s.Lock(ctx)
				return 0, 0, fmt.Errorf("bench: a wrong passphrase or code was accepted")
			}
			if wrongPassphrase {
				wrongPass += time.Since(start)
			} else {
				wrongCode += time.Since(start)
			}
			if err := store.UpdateKeyring(v.Dir, func(k *store.Keyring) error { k.Throttle = nil; k.Pending = nil; return nil }); err != nil {
				return 0, 0, err
			}
		}
	}
	return wrongPass, wrongCode, nil
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
