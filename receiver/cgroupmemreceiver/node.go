package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	"github.com/cgroupmem/cgroupmem/internal/nodemem"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// scrapeNode records the node-wide dentry metrics, each read only when enabled.
func (s *cgroupScraper) scrapeNode(now pcommon.Timestamp, errs *scrapererror.ScrapeErrors) {
	mc := s.cfg.Metrics
	if mc.SystemLinuxDentryCount.Enabled {
		if st, err := nodemem.ReadDentryState(s.procRoot); err != nil {
			errs.AddPartial(1, err)
		} else {
			s.mb.RecordSystemLinuxDentryCountDataPoint(now, int64(st.Total), metadata.AttributeDentryStateTotal)
			s.mb.RecordSystemLinuxDentryCountDataPoint(now, int64(st.Unused), metadata.AttributeDentryStateUnused)
			if st.HasNegative {
				s.mb.RecordSystemLinuxDentryCountDataPoint(now, int64(st.Negative), metadata.AttributeDentryStateNegative)
			}
		}
	}
	if mc.SystemMemoryLinuxSlabDentry.Enabled {
		if c, found, err := nodemem.ReadDentrySlab(s.procRoot); err != nil {
			errs.AddPartial(1, err)
		} else if found {
			s.mb.RecordSystemMemoryLinuxSlabDentryDataPoint(now, int64(c.ActiveBytes()))
		}
	}
	s.scrapeNodePressure(now, errs)
	s.mb.EmitForResource(metadata.WithResource(s.nodeResource()))
}
