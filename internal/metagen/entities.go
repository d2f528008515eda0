package metagen

// The JSON shapes of Kylin 3.x metadata entities, with fields in the order
// Kylin's Jackson serialisation writes them. generate marshals them and churn
// unmarshals, edits and marshals them again, so a field that churn does not
// touch keeps its bytes.

// kylinVersion is the metadata version stamped into every entity.
const kylinVersion = "3.1.0.20500"

// rootEntity holds the fields of Kylin's RootPersistentEntity.
type rootEntity struct {
	UUID         string `json:"uuid"`
	LastModified int64  `json:"last_modified"`
	Version      string `json:"version"`
}

func root(uuid string, ts int64) rootEntity {
	return rootEntity{UUID: uuid, LastModified: ts, Version: kylinVersion}
}

// projectJSON is a ProjectInstance: /project/<name>.json.
type projectJSON struct {
	rootEntity
	Name                    string             `json:"name"`
	Tables                  []string           `json:"tables"`
	Owner                   string             `json:"owner"`
	Status                  string             `json:"status"`
	CreateTimeUTC           int64              `json:"create_time_utc"`
	Description             string             `json:"description"`
	Realizations            []realizationEntry `json:"realizations"`
	Models                  []string           `json:"models"`
	ExtFilters              []string           `json:"ext_filters"`
	OverrideKylinProperties map[string]string  `json:"override_kylin_properties"`
}

type realizationEntry struct {
	Type        string `json:"type"`
	Realization string `json:"realization"`
}

// tableJSON is a TableDesc: /table/<DB>.<TABLE>--<project>.json.
type tableJSON struct {
	rootEntity
	Name       string       `json:"name"`
	Columns    []columnJSON `json:"columns"`
	SourceType int          `json:"source_type"`
	TableType  string       `json:"table_type"`
	Database   string       `json:"database"`
}

type columnJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Comment  string `json:"comment,omitempty"`
}

// tableExtJSON is a TableExtDesc: /table_exd/<DB>.<TABLE>--<project>.json.
type tableExtJSON struct {
	rootEntity
	TableName            string            `json:"table_name"`
	LastBuildJobID       *string           `json:"last_build_job_id"`
	Frequency            int               `json:"frequency"`
	ColumnsStats         []columnStatsJSON `json:"columns_stats"`
	SampleRows           [][]string        `json:"sample_rows"`
	LastModifiedTime     int64             `json:"last_modified_time"`
	TotalRows            int64             `json:"total_rows"`
	MapperRows           []int64           `json:"mapper_rows"`
	DataSourceProperties map[string]string `json:"data_source_properties"`
}

type columnStatsJSON struct {
	ColumnName     string `json:"column_name"`
	MaxValue       string `json:"max_value"`
	MinValue       string `json:"min_value"`
	MaxLengthValue string `json:"max_length_value"`
	MinLengthValue string `json:"min_length_value"`
	NullCount      int64  `json:"null_count"`
	Cardinality    int64  `json:"cardinality"`
}

// modelJSON is a DataModelDesc: /model_desc/<name>.json.
type modelJSON struct {
	rootEntity
	Name            string            `json:"name"`
	Owner           string            `json:"owner"`
	IsDraft         bool              `json:"is_draft"`
	Description     string            `json:"description"`
	FactTable       string            `json:"fact_table"`
	Lookups         []lookupJSON      `json:"lookups"`
	Dimensions      []modelDimJSON    `json:"dimensions"`
	Metrics         []string          `json:"metrics"`
	FilterCondition string            `json:"filter_condition"`
	PartitionDesc   partitionDescJSON `json:"partition_desc"`
	Capacity        string            `json:"capacity"`
}

type lookupJSON struct {
	Table string   `json:"table"`
	Kind  string   `json:"kind"`
	Alias string   `json:"alias"`
	Join  joinJSON `json:"join"`
}

type joinJSON struct {
	Type       string   `json:"type"`
	PrimaryKey []string `json:"primary_key"`
	ForeignKey []string `json:"foreign_key"`
}

type modelDimJSON struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

type partitionDescJSON struct {
	PartitionDateColumn       string  `json:"partition_date_column"`
	PartitionTimeColumn       *string `json:"partition_time_column"`
	PartitionDateStart        int64   `json:"partition_date_start"`
	PartitionDateFormat       string  `json:"partition_date_format"`
	PartitionTimeFormat       string  `json:"partition_time_format"`
	PartitionType             string  `json:"partition_type"`
	PartitionConditionBuilder string  `json:"partition_condition_builder"`
}

// cubeDescJSON is a CubeDesc: /cube_desc/<name>.json.
type cubeDescJSON struct {
	rootEntity
	Name                    string            `json:"name"`
	IsDraft                 bool              `json:"is_draft"`
	ModelName               string            `json:"model_name"`
	Description             string            `json:"description"`
	NullString              *string           `json:"null_string"`
	Dimensions              []cubeDimJSON     `json:"dimensions"`
	Measures                []measureJSON     `json:"measures"`
	Dictionaries            []string          `json:"dictionaries"`
	Rowkey                  rowkeyJSON        `json:"rowkey"`
	HBaseMapping            hbaseMappingJSON  `json:"hbase_mapping"`
	AggregationGroups       []aggGroupJSON    `json:"aggregation_groups"`
	Signature               string            `json:"signature"`
	NotifyList              []string          `json:"notify_list"`
	StatusNeedNotify        []string          `json:"status_need_notify"`
	PartitionDateStart      int64             `json:"partition_date_start"`
	PartitionDateEnd        int64             `json:"partition_date_end"`
	AutoMergeTimeRanges     []int64           `json:"auto_merge_time_ranges"`
	VolatileRange           int64             `json:"volatile_range"`
	RetentionRange          int64             `json:"retention_range"`
	EngineType              int               `json:"engine_type"`
	StorageType             int               `json:"storage_type"`
	OverrideKylinProperties map[string]string `json:"override_kylin_properties"`
	CuboidBlackList         []int64           `json:"cuboid_black_list"`
	ParentForward           int               `json:"parent_forward"`
	MandatoryDimensionSets  [][]string        `json:"mandatory_dimension_set_list"`
}

type cubeDimJSON struct {
	Name    string   `json:"name"`
	Table   string   `json:"table"`
	Column  *string  `json:"column"`
	Derived []string `json:"derived"`
}

type measureJSON struct {
	Name     string       `json:"name"`
	Function functionJSON `json:"function"`
}

type functionJSON struct {
	Expression string        `json:"expression"`
	Parameter  parameterJSON `json:"parameter"`
	ReturnType string        `json:"returntype"`
}

type parameterJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type rowkeyJSON struct {
	RowkeyColumns []rowkeyColJSON `json:"rowkey_columns"`
}

type rowkeyColJSON struct {
	Column          string `json:"column"`
	Encoding        string `json:"encoding"`
	EncodingVersion int    `json:"encoding_version"`
	IsShardBy       bool   `json:"isShardBy"`
}

type hbaseMappingJSON struct {
	ColumnFamily []columnFamilyJSON `json:"column_family"`
}

type columnFamilyJSON struct {
	Name    string          `json:"name"`
	Columns []cfColumnsJSON `json:"columns"`
}

type cfColumnsJSON struct {
	Qualifier   string   `json:"qualifier"`
	MeasureRefs []string `json:"measure_refs"`
}

type aggGroupJSON struct {
	Includes   []string       `json:"includes"`
	SelectRule selectRuleJSON `json:"select_rule"`
}

type selectRuleJSON struct {
	HierarchyDims [][]string `json:"hierarchy_dims"`
	MandatoryDims []string   `json:"mandatory_dims"`
	JointDims     [][]string `json:"joint_dims"`
}

// cubeJSON is a CubeInstance: /cube/<name>.json.
type cubeJSON struct {
	rootEntity
	Name          string        `json:"name"`
	Owner         string        `json:"owner"`
	Descriptor    string        `json:"descriptor"`
	DisplayName   string        `json:"display_name"`
	Cost          int           `json:"cost"`
	Status        string        `json:"status"`
	Segments      []segmentJSON `json:"segments"`
	CreateTimeUTC int64         `json:"create_time_utc"`
	CuboidBytes   *string       `json:"cuboid_bytes"`
	CuboidLastOpt int64         `json:"cuboid_last_optimized"`
}

// segmentJSON is one CubeSegment inside a cube.
type segmentJSON struct {
	UUID                      string            `json:"uuid"`
	Name                      string            `json:"name"`
	StorageLocationIdentifier string            `json:"storage_location_identifier"`
	DateRangeStart            int64             `json:"date_range_start"`
	DateRangeEnd              int64             `json:"date_range_end"`
	SourceOffsetStart         int64             `json:"source_offset_start"`
	SourceOffsetEnd           int64             `json:"source_offset_end"`
	Status                    string            `json:"status"`
	SizeKB                    int64             `json:"size_kb"`
	IsMerged                  bool              `json:"is_merged"`
	InputRecords              int64             `json:"input_records"`
	InputRecordsSize          int64             `json:"input_records_size"`
	LastBuildTime             int64             `json:"last_build_time"`
	LastBuildJobID            string            `json:"last_build_job_id"`
	CreateTimeUTC             int64             `json:"create_time_utc"`
	CuboidShardNums           map[string]int    `json:"cuboid_shard_nums"`
	TotalShards               int               `json:"total_shards"`
	BlackoutCuboids           []int64           `json:"blackout_cuboids"`
	BinarySignature           *string           `json:"binary_signature"`
	Dictionaries              map[string]string `json:"dictionaries"`
	Snapshots                 map[string]string `json:"snapshots"`
	RowkeyStats               [][]any           `json:"rowkey_stats"`
	AdditionalInfo            map[string]string `json:"additionalInfo"`
}

// jobJSON is an ExecutablePO: /execute/<job uuid>. Its tasks are inline.
type jobJSON struct {
	rootEntity
	Name   string            `json:"name"`
	Tasks  []jobJSON         `json:"tasks"`
	Type   string            `json:"type"`
	Params map[string]string `json:"params"`
}

// outputJSON is an ExecutableOutputPO: /execute_output/<job uuid> for the
// job and /execute_output/<job uuid>-NN for its NN-th task.
type outputJSON struct {
	rootEntity
	Content *string           `json:"content"`
	Status  string            `json:"status"`
	Info    map[string]string `json:"info"`
}

// userJSON is a ManagedUser: /user/<NAME>.
type userJSON struct {
	rootEntity
	Username        string          `json:"username"`
	Password        string          `json:"password"`
	Authorities     []authorityJSON `json:"authorities"`
	Disabled        bool            `json:"disabled"`
	DefaultPassword bool            `json:"defaultPassword"`
	Locked          bool            `json:"locked"`
	LockedTime      int64           `json:"lockedTime"`
	WrongTime       int             `json:"wrongTime"`
}

type authorityJSON struct {
	Authority string `json:"authority"`
}

// userGroupJSON is one user group: /user_group/<NAME>.
type userGroupJSON struct {
	rootEntity
	GroupName string `json:"group_name"`
}

// aclJSON is an AclRecord: /acl/<uuid of the project, cube or model>.
type aclJSON struct {
	DomainObjectInfo       domainObjectJSON   `json:"domainObjectInfo"`
	ParentDomainObjectInfo *domainObjectJSON  `json:"parentDomainObjectInfo"`
	OwnerInfo              sidJSON            `json:"ownerInfo"`
	EntriesInheriting      bool               `json:"entriesInheriting"`
	AllAceInfo             map[string]aceJSON `json:"allAceInfo"`
	rootEntity
}

type domainObjectJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type sidJSON struct {
	Sid       string `json:"sid"`
	Principal bool   `json:"principal"`
}

type aceJSON struct {
	SidInfo        sidJSON `json:"sidInfo"`
	PermissionMask int     `json:"permissionMask"`
}

// badQueryJSON is a BadQueryHistory: /bad_query/<project>.json.
type badQueryJSON struct {
	rootEntity
	Project string              `json:"project"`
	Entries []badQueryEntryJSON `json:"entries"`
}

type badQueryEntryJSON struct {
	rootEntity
	Adj            string `json:"adj"`
	SQL            string `json:"sql"`
	StartTime      int64  `json:"start_time"`
	RunningSeconds int    `json:"running_seconds"`
	Server         string `json:"server"`
	Thread         string `json:"thread"`
	User           string `json:"user"`
}

// dictInfoJSON is the JSON header of a DictionaryInfo (.dict) file.
type dictInfoJSON struct {
	rootEntity
	SourceTable       string        `json:"source_table"`
	SourceColumn      string        `json:"source_column"`
	SourceColumnIndex int           `json:"source_column_index"`
	DataType          string        `json:"data_type"`
	Input             signatureJSON `json:"input"`
	DictionaryClass   string        `json:"dictionary_class"`
	Cardinality       int           `json:"cardinality"`
}

type signatureJSON struct {
	Path             string `json:"path"`
	Size             int64  `json:"size"`
	LastModifiedTime int64  `json:"last_modified_time"`
}

// snapshotJSON is the JSON header of a SnapshotTable (.snapshot) file.
type snapshotJSON struct {
	rootEntity
	TableName        string        `json:"tableName"`
	Signature        signatureJSON `json:"signature"`
	UseDictionary    bool          `json:"useDictionary"`
	LastSnapshotPath *string       `json:"last_snapshot_path"`
}
