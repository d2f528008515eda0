package metagen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Vocabulary for plausible names. The words are generic business terms; the
// generator combines them with indexes so that names stay unique.
var (
	projectDomains = []string{
		"sales", "finance", "logistics", "marketing", "risk", "supply_chain", "hr",
		"ads", "payments", "crm", "inventory", "retail", "growth", "ops", "billing",
		"fraud", "pricing", "membership", "travel", "content",
	}
	projectQualifiers = []string{"analytics", "reporting", "bi", "dw", "kpi", "mart", "insight", "ops"}

	databases = []string{"DW", "ODS", "DM", "EDW", "RPT", "ADS", "DWD", "DWS"}

	factNouns = []string{
		"ORDERS", "PAYMENTS", "SHIPMENTS", "CLICKS", "IMPRESSIONS", "SESSIONS",
		"TRANSACTIONS", "REFUNDS", "INVOICES", "BOOKINGS", "EVENTS", "VISITS",
		"RETURNS", "CLAIMS", "TRADES", "CALLS", "STOCK_MOVES", "SUBSCRIPTIONS",
	}
	dimNouns = []string{
		"CUSTOMER", "PRODUCT", "STORE", "REGION", "CHANNEL", "CAMPAIGN", "SUPPLIER",
		"WAREHOUSE", "CATEGORY", "BRAND", "EMPLOYEE", "CURRENCY", "DEVICE", "CITY",
		"COUNTRY", "PROMOTION", "CARRIER", "ACCOUNT", "MERCHANT", "PARTNER", "SITE",
		"SELLER", "PLAN", "AGENT", "BRANCH", "CAL_DT", "PAGE", "SEGMENT",
	}
	attrNouns = []string{
		"NAME", "TYPE", "LEVEL", "STATUS", "GROUP", "CLASS", "TIER", "SOURCE",
		"OWNER", "LABEL", "DESC", "FLAG", "RANK", "ZONE", "AREA", "LINE",
	}
	measureNouns = []string{
		"AMOUNT", "QTY", "PRICE", "COST", "DISCOUNT", "TAX", "FEE", "REVENUE",
		"MARGIN", "WEIGHT", "DURATION", "SCORE", "BALANCE", "POINTS", "UNITS",
	}
	words = []string{
		"North", "South", "East", "West", "Central", "Pacific", "Atlantic", "Metro",
		"Prime", "Global", "Urban", "Coastal", "Valley", "Summit", "River", "Harbor",
		"Green", "Silver", "Golden", "Royal", "United", "First", "Smart", "Rapid",
		"Express", "Classic", "Modern", "Premium", "Standard", "Basic", "Deluxe",
		"Outlet", "Market", "Store", "Center", "Plaza", "Point", "Park", "Station",
		"Electronics", "Apparel", "Grocery", "Home", "Garden", "Sports", "Toys",
		"Books", "Beauty", "Health", "Auto", "Office", "Kitchen", "Outdoor", "Music",
	}
	cities = []string{
		"Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu", "Singapore", "Tokyo",
		"Seoul", "London", "Paris", "Berlin", "Madrid", "New York", "Chicago",
		"San Jose", "Toronto", "Sydney", "Mumbai", "Dubai", "Sao Paulo", "Austin",
	}
	firstNames = []string{
		"ALICE", "BOB", "CAROL", "DAVID", "ERIN", "FRANK", "GRACE", "HENRY", "IVY",
		"JACK", "KATE", "LEO", "MIA", "NOAH", "OLIVIA", "PAUL", "QUINN", "RUBY",
		"SAM", "TINA", "WEI", "LI", "JUN", "YAN", "HAO", "MEI", "RAVI", "ANNA",
	}
	lastNames = []string{
		"WANG", "ZHANG", "LIU", "CHEN", "YANG", "HUANG", "ZHAO", "WU", "ZHOU",
		"SMITH", "JONES", "BROWN", "MILLER", "DAVIS", "GARCIA", "MARTIN", "LEE",
		"KIM", "PATEL", "MULLER", "ROSSI", "SATO", "NGUYEN", "SILVA",
	}
	servers = []string{"kylin-job-01", "kylin-job-02", "kylin-query-01", "kylin-query-02", "kylin-query-03", "kylin-all-01"}
)

// projectName returns the i-th project name: unique for every i.
func projectName(i int) string {
	d := projectDomains[i%len(projectDomains)]
	q := projectQualifiers[(i/len(projectDomains))%len(projectQualifiers)]
	name := d + "_" + q
	if round := i / (len(projectDomains) * len(projectQualifiers)); round > 0 {
		name = fmt.Sprintf("%s_%d", name, round+1)
	}
	return name
}

// uniqueName returns base, or base with a numeric suffix when used already
// holds it; it records the result in used.
func uniqueName(used map[string]bool, base string) string {
	name := base
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s_%d", base, n)
	}
	used[name] = true
	return name
}

// phrase returns one to three capitalised words, such as "North Outlet".
func phrase(r *rand.Rand) string {
	n := 1 + r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = pick(r, words)
	}
	return strings.Join(parts, " ")
}

// userName returns a user name such as "ALICE_WANG_042".
func userName(i int) string {
	f := firstNames[i%len(firstNames)]
	l := lastNames[(i/len(firstNames))%len(lastNames)]
	return fmt.Sprintf("%s_%s_%03d", f, l, i)
}

// bcryptHash returns a string shaped like a bcrypt hash ($2a$10$ + 53
// characters of bcrypt's base64 alphabet).
func bcryptHash(r *rand.Rand) string {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("$2a$10$")
	for range 53 {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return string(b)
}
