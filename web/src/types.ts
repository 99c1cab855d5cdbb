// The API's shapes, as `/openapi.json` describes them (only what the app reads).

export type Role = "viewer" | "analyst" | "admin";
export type ColumnType = "integer" | "float" | "timestamp" | "boolean" | "text" | "empty";
export type MissingPolicy = "reject" | "fill_forward" | "interpolate" | "drop";
export type ModelChoice =
  | "auto"
  | "naive"
  | "seasonal_naive"
  | "ets"
  | "ets_damped"
  | "mstl_ets"
  | "auto_ets"
  | "auto_arima"
  | "auto_theta"
  | "croston"
  | "tsb"
  | "adida";

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface UserView {
  id: string;
  email: string;
  name?: string | null;
  role: Role;
  enabled: boolean;
  status: "invited" | "active";
  mfa_enabled: boolean;
  created_at: string;
}

export interface Me {
  id: string;
  username: string;
  role: Role;
  account?: UserView | null;
}

export interface Column {
  name: string;
  type: ColumnType;
  missing: number;
}

export interface DatasetSummary {
  id: string;
  name: string;
  description: string;
  owner: string;
  shared_with?: string[] | null;
  created_at: string;
  updated_at: string;
  size_bytes: number;
  row_count: number;
  columns: Column[];
  time_axis?: { column: string; frequency?: string | null } | null;
  version: number;
}

export interface DatasetView extends DatasetSummary {
  preview: string[][];
}

export interface DatasetExport {
  columns: Column[];
  rows: Record<string, string | number | boolean | null>[];
}

export interface Accuracy {
  mae: number;
  rmse: number;
  smape: number;
  mase?: number | null;
}

export interface CandidateScore {
  model: string;
  accuracy?: Accuracy | null;
  error?: string | null;
}

export interface ForecastSummary {
  id: string;
  dataset_id: string;
  owner: string;
  created_at: string;
  model: string;
  target_column: string;
  horizon: number;
}

export interface ForecastView {
  id: string;
  dataset_id: string;
  owner: string;
  created_at: string;
  request: { time_column: string; target_column: string; horizon: number; models?: ModelChoice[]; missing?: MissingPolicy };
  series: SeriesReport;
  result: {
    frequency: string;
    seasonal_periods: number[];
    timestamps: string[];
    point: number[];
    intervals: { level: number; lower: number[]; upper: number[] }[];
    model: { kind: string; description: string; periods: number[]; aicc?: number | null };
    accuracy?: Accuracy | null;
    members?: { model: { kind: string; description: string }; accuracy?: Accuracy | null; weight: number }[];
    backtest: { holdout: number; windows?: number; mase_season: number; candidates: CandidateScore[] };
    fitted_points?: number;
  };
}

export interface SeriesReport {
  rows: number;
  duplicates: number;
  gaps: number;
  missing_values: number;
  filled: number;
  dropped: number;
}

export interface Outlier {
  timestamp: string;
  value: number;
  score: number;
}

export interface ColumnAnalysis {
  column: string;
  summary: { count: number; mean: number; std_dev: number; min: number; p25: number; median: number; p75: number; max: number };
  first_timestamp: string;
  last_timestamp: string;
  seasonal_periods: { period: number; relative_power: number }[];
  trend?: { direction: "increasing" | "decreasing" | "none"; slope_per_step: number; change_over_span: number; r_squared: number; t_statistic: number } | null;
  outliers: Record<"zscore" | "iqr" | "mad", { rule: string; count: number; points: Outlier[] }>;
  changepoints?: { timestamp: string; mean_before: number; mean_after: number }[] | null;
  notes: string[];
}

export interface AnalysisView {
  dataset_id: string;
  time_column: string;
  frequency: string;
  columns: ColumnAnalysis[];
  notes: string[];
}
