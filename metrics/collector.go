package metrics

import (
	"context"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"tolem/kiosk"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

var (
	descState = desc("state", "1 for the customer flow's current state, 0 for the others.", "state")
	descUp    = desc("acceptor_ready", "1 while the bill acceptor is connected and can take cash.")
	descFault = desc("acceptor_fault", "1 while the bill acceptor reports the fault, 0 while clear.", "fault")
	descBills = desc("cassette_bills", "Bills in the cassette (since the last collection).")
	descAmt   = desc("cassette_amount_tiyn", "Money in the cassette, in tiyn.")
	descCap   = desc("cassette_capacity_bills", "Bills the cassette holds (acceptor.cassette_capacity).")
	descQueue = desc("queue_topups", "Top-ups not settled with the bank, by sync state (unsent, pending, review).", "sync")
	descQAmt  = desc("queue_unsent_amount_tiyn", "Money of the unsent top-ups, in tiyn (the offline cap counts it).")
	descOld   = desc("queue_oldest_age_seconds", "Age of the oldest unsent or pending top-up since its completion; 0 when none.")
	descBank  = desc("bank_up", "1 while the bank answered the outbox's last request as asked.")
	descClock = desc("clock_offset_seconds", "The bank's clock minus the kiosk's, from the X-Bank-Time of its answers.")
	descSet   = desc("topups_settled_total", "Top-ups the bank settled since start, each counted once, by service and status.", "service", "status")
	descRetry = desc("outbox_retries_total", "Requests to the bank that failed and are tried again, since start.")
	descReqs  = desc("outbox_requests_total", "Requests the outbox made to the bank, since start.")
	descDoor  = desc("door_open", "1 while the service door is open (no cash is taken).")
	descAlarm = desc("door_alarm", "1 while the service door alarm stands: opened with no technician logged in.")
	descRev   = desc("review_items", "The technician's review list: top-ups refused by the bank (topups), rejected ones (rejected), uncertain and suspense bills (bills).", "kind")
	descLedg  = desc("ledger_ok", "1 while the ledger is open and takes writes; 0 keeps the kiosk out of service.")
	descDiskF = desc("disk_free_bytes", "Bytes free in the data directory's file system (the ledger's); warn at 80 % used.")
	descDiskS = desc("disk_size_bytes", "Size of the data directory's file system.")
	descPrint = desc("printer_fault", "1 while the receipt printer reports the fault, 0 while clear.", "fault")
)

// kioskCollector reads the kiosk at scrape time.
type kioskCollector struct{ o Options }

func (c *kioskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descUp, descFault, descBills, descAmt, descCap, descQueue, descQAmt,
		descOld, descBank, descClock, descSet, descRetry, descReqs, descDoor, descAlarm, descRev, descLedg, descDiskF, descDiskS} {
		ch <- d
	}
	if c.o.Printer != nil {
		ch <- descPrint
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *kioskCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.o.Source
	ctx, cancel := context.WithTimeout(context.Background(), c.o.ScrapeTimeout)
	defer cancel()

	state := src.State()
	for _, s := range kiosk.States() {
		ch <- gauge(descState, b2f(s == state), s.String())
	}

	info := src.Acceptor()
	ch <- gauge(descUp, b2f(info.Ready))
	faults := c.o.AcceptorFaults
	for _, f := range info.Faults {
		if !slices.Contains(faults, f) {
			faults = append(slices.Clone(faults), f) // a fault no list knew of still shows
		}
	}
	for _, f := range faults {
		ch <- gauge(descFault, b2f(slices.Contains(info.Faults, f)), string(f))
	}

	ch <- gauge(descDoor, b2f(src.DoorOpen()))
	ch <- gauge(descAlarm, b2f(src.DoorAlarm()))
	if r, err := src.Review(ctx); err == nil {
		ch <- gauge(descRev, float64(r.TopUps), "topups")
		ch <- gauge(descRev, float64(r.Rejected), "rejected")
		ch <- gauge(descRev, float64(r.Bills), "bills")
	} else {
		c.o.Log.Debug("metrics: review", "err", err)
	}
	ch <- gauge(descLedg, b2f(src.LedgerOK(ctx)))
	if d, ok := src.(DiskSource); ok {
		if free, total, err := d.Disk(); err == nil {
			ch <- gauge(descDiskF, float64(free))
			ch <- gauge(descDiskS, float64(total))
		}
	}

	if cas, err := src.Cassette(ctx); err == nil {
		ch <- gauge(descBills, float64(cas.Bills))
		ch <- gauge(descAmt, float64(cas.Amount))
		if cas.Capacity > 0 {
			ch <- gauge(descCap, float64(cas.Capacity))
		}
	} else {
		c.o.Log.Debug("metrics: cassette", "err", err)
	}
	if q, err := src.Queue(ctx); err == nil {
		ch <- gauge(descQueue, float64(q.Unsent), "unsent")
		ch <- gauge(descQueue, float64(q.Pending), "pending")
		ch <- gauge(descQueue, float64(q.Review), "review")
		ch <- gauge(descQAmt, float64(q.UnsentAmount))
		age := 0.0
		if !q.OldestAt.IsZero() {
			age = max(kiosk.SystemClock{}.Now().Sub(q.OldestAt).Seconds(), 0)
		}
		ch <- gauge(descOld, age)
	} else {
		c.o.Log.Debug("metrics: queue", "err", err)
	}

	if b := src.Bank(); b.Known {
		ch <- gauge(descBank, b2f(b.Up))
		ch <- gauge(descClock, b.ClockOffset.Seconds())
		settled := func(total int, by map[string]int, status string) {
			if by == nil {
				by = map[string]int{ServiceWallet: total}
			}
			if _, ok := by[ServiceWallet]; !ok {
				by[ServiceWallet] = 0
			}
			for svc, n := range by {
				ch <- counter(descSet, float64(n), svc, status)
			}
		}
		settled(b.Credited, maps.Clone(b.CreditedBy), "credited")
		settled(b.Rejected, maps.Clone(b.RejectedBy), "rejected")
		ch <- counter(descRetry, float64(b.Retries))
		ch <- counter(descReqs, float64(b.Requests))
	}

	if c.o.Printer != nil {
		all, active := c.o.Printer.Faults()
		for _, f := range all {
			ch <- gauge(descPrint, b2f(slices.Contains(active, f)), f)
		}
	}
}
