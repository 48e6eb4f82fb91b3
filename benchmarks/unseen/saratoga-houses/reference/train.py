# Import helpful libraries
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.metrics import mean_absolute_error

# Load the data, and separate the target
saratoga_file_path = 'train.csv'
home_data = pd.read_csv(saratoga_file_path)
test_data = pd.read_csv('test.csv')

y = home_data.price

# All the columns, the yes/no and heating codes one-hot encoded (on train and test together so both
# get the same columns).
both = pd.concat([home_data.drop(columns=['price']), test_data], ignore_index=True)
both = pd.get_dummies(both.drop(columns=['Id']), dtype=float)
features = list(both.columns)
X = both.iloc[:len(home_data)]
test_X = both.iloc[len(home_data):]

# Split into testing and training data
train_X, valid_X, train_y, valid_y = train_test_split(X, y, random_state=1)

# ***********************************************
# In this part of the code, write and train the model on the above dataset to perform the task.
# This part should populate the variable train_mae and valid_mae on the model selected
# ***********************************************
# Prices are right-skewed: boost on the log price with an absolute loss, as MAE is the score.
params = dict(n_estimators=400, learning_rate=0.03, max_depth=3, subsample=0.8,
              loss='absolute_error', random_state=0)
model = GradientBoostingRegressor(**params)
model.fit(train_X, np.log(train_y))
train_mae = mean_absolute_error(train_y, np.exp(model.predict(train_X)))
valid_mae = mean_absolute_error(valid_y, np.exp(model.predict(valid_X)))

# Refit on every training house for the submission.
model = GradientBoostingRegressor(**params).fit(X, np.log(y))
# ***********************************************
# End of the main training module
# ***********************************************

print("Train MAE: {:,.0f}".format(train_mae))
print("Validation MAE: {:,.0f}".format(valid_mae))

test_preds = np.exp(model.predict(test_X))

output = pd.DataFrame({'Id': test_data.Id,
                       'price': test_preds})
output.to_csv('submission.csv', index=False)
