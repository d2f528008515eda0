package scope_test

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

// memSource is a metastore.Source over a map from key to content, for
// examples and table tests.
type memSource map[string]string

func (m memSource) List(ctx context.Context, prefix string, fn func(string) error) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (m memSource) Read(ctx context.Context, path string) (metastore.Resource, error) {
	data, ok := m[path]
	if !ok {
		return metastore.Resource{}, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
	}
	return metastore.Resource{Path: path, Data: []byte(data)}, nil
}

func ExampleResolve() {
	src := memSource{
		"/UUID":                     "2f0b2c8e-0d0e-4e8a-9a57-3c1b9d2b1f00",
		"/project/learn_kylin.json": `{"uuid": "p1", "realizations": [{"type": "CUBE", "realization": "kylin_sales_cube"}], "models": ["kylin_sales_model"], "tables": ["DEFAULT.KYLIN_SALES", "DEFAULT.KYLIN_CAL_DT"]}`,
		"/project/other.json":       `{"uuid": "p2", "tables": ["DEFAULT.KYLIN_SALES"]}`,
		"/cube/kylin_sales_cube.json": `{"uuid": "c1", "descriptor": "kylin_sales_cube", "segments": [{"uuid": "s1", "status": "READY",
			"dictionaries": {"DEFAULT.KYLIN_SALES/SELLER_ID": "/dict/DEFAULT.KYLIN_SALES/SELLER_ID/d1.dict"}}]}`,
		"/cube_desc/kylin_sales_cube.json":                 `{"model_name": "kylin_sales_model"}`,
		"/model_desc/kylin_sales_model.json":               `{"uuid": "m1", "fact_table": "DEFAULT.KYLIN_SALES", "join_tables": [{"table": "DEFAULT.KYLIN_CAL_DT"}]}`,
		"/table/DEFAULT.KYLIN_SALES--learn_kylin.json":     `{}`,
		"/table/DEFAULT.KYLIN_SALES--other.json":           `{}`,
		"/table/DEFAULT.KYLIN_CAL_DT.json":                 `{}`,
		"/table_exd/DEFAULT.KYLIN_SALES--learn_kylin.json": `{}`,
		"/dict/DEFAULT.KYLIN_SALES/SELLER_ID/d1.dict":      "binary",
		"/query/ADMIN": `[]`,
	}
	ctx := context.Background()
	for _, s := range []string{"cube/kylin_sales_cube", "project/learn_kylin"} {
		res, err := scope.Resolve(ctx, src, scope.MustParse(s), scope.Options{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s (%s):\n", res.Scope, res.Layout)
		for _, p := range res.Paths {
			fmt.Println(" ", p)
		}
		for _, w := range res.Warnings {
			fmt.Println("  warning:", w)
		}
	}
	_, err := scope.Resolve(ctx, src, scope.ProjectScope("learn_kylinn"), scope.Options{})
	fmt.Println(err)
	// Output:
	// cube/kylin_sales_cube (layout4):
	//   /UUID
	//   /cube/kylin_sales_cube.json
	//   /cube_desc/kylin_sales_cube.json
	//   /model_desc/kylin_sales_model.json
	//   /project/learn_kylin.json
	//   /table/DEFAULT.KYLIN_CAL_DT.json
	//   /table/DEFAULT.KYLIN_SALES--learn_kylin.json
	//   /table_exd/DEFAULT.KYLIN_SALES--learn_kylin.json
	// project/learn_kylin (layout4):
	//   /UUID
	//   /cube/kylin_sales_cube.json
	//   /cube_desc/kylin_sales_cube.json
	//   /dict/DEFAULT.KYLIN_SALES/SELLER_ID/d1.dict
	//   /model_desc/kylin_sales_model.json
	//   /project/learn_kylin.json
	//   /table/DEFAULT.KYLIN_CAL_DT.json
	//   /table/DEFAULT.KYLIN_SALES--learn_kylin.json
	//   /table_exd/DEFAULT.KYLIN_SALES--learn_kylin.json
	//   warning: /cube_statistics/kylin_sales_cube/s1.seq: does not exist (statistics of /cube/kylin_sales_cube.json)
	// resolve project/learn_kylinn: project "learn_kylinn" not found (closest: learn_kylin)
}
