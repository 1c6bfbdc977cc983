"""What differs between problem types (classification, regression, clustering, forecasting, anomaly): split
policy, outputs, metrics, plots, and the classical baselines each is compared against."""
