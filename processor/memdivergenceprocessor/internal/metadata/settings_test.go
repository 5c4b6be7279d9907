package metadata

import "go.opentelemetry.io/collector/processor/processortest"

// settings is what the generated TestMetricsBuilder passes to NewMetricsBuilder; mdatagen
// declares it only for receivers, scrapers and connectors.
var settings = processortest.NewNopSettings(Type)
